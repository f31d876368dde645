//go:build e2e

package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlockci/airlock/agent"
	"github.com/airlockci/airlock/edge/scheduler"
	"github.com/airlockci/airlock/internal/devstack"
)

// TestDashboardInBrowser signs a person in through the development SSO in
// headless Chromium (site/e2e/dashboard.e2e.mjs, playwright-core) against
// the real stack: the dashboard served by the Worker, a run with a live
// log, an agent with its proven identity, a job cancelled from the run
// page, and a session ended from a second browser, after which the first
// is sent back to sign-in.
//
// The sign-in crosses sites (the provider is localhost, the dashboard
// 127.0.0.1), so the SameSite=Strict trap is exercised: it must complete on
// the first try. With AIRLOCK_SCREENSHOTS set the pages are saved there
// (make screenshots refreshes docs/screenshots).
func TestDashboardInBrowser(t *testing.T) {
	chromium := os.Getenv("CHROMIUM")
	if chromium == "" {
		chromium = "/usr/bin/chromium"
	}
	if _, err := os.Stat(chromium); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Chromium at %s (CI installs Debian's chromium): %v", chromium, err)
		}
		t.Skipf("no Chromium at %s (apt-get install chromium, or set CHROMIUM): the browser test needs one", chromium)
	}
	s := shared(t)
	startAgent(t, s, "e2e-browser", 2, func(a *agent.Agent) { a.Tags = map[string]string{"browser": "yes"} })
	repo, commit := gitRepo(t, map[string]string{"README": "browser\n"})
	b, _ := json.Marshal(scheduler.SubmitRequest{Filename: "dashboard.yml", Repository: repo, Commit: commit, Branch: "main", Message: "dashboard e2e",
		Pipeline: `steps:
  - key: build
    label: ":hammer: build"
    command: for i in 1 2 3 4 5; do printf '\033[32mline %s\033[0m of the build\n' $i; done
    agents: {browser: "yes"}
  - key: test
    label: ":test_tube: test"
    command: echo testing; sleep 300
    depends_on: build
    agents: {browser: "yes"}
  - key: deploy
    label: ":rocket: deploy"
    command: echo deploy
    depends_on: test
    agents: {browser: "yes"}
`})
	code, data, _ := s.do("POST", "/v1/runs", b)
	if code != 201 {
		t.Fatalf("submit: got %d %s", code, data)
	}
	var run scheduler.RunView
	_ = json.Unmarshal(data, &run)

	shots := os.Getenv("AIRLOCK_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	cmd := exec.Command(filepath.Join(repoRoot(t), "node_modules/.bin/node"), filepath.Join(repoRoot(t), "site/e2e/dashboard.e2e.mjs"))
	cmd.Dir = repoRoot(t)
	cmd.Env = append(os.Environ(),
		"AIRLOCK_URL="+s.cp.URL,
		"AIRLOCK_IDP_USER=alice",
		"AIRLOCK_IDP_PASSWORD="+devstack.Password("alice"),
		"AIRLOCK_RUN_ID="+run.ID,
		"AIRLOCK_CANCEL_JOB_KEY=test",
		"AIRLOCK_AGENT_IDENTITY=role/"+devstack.DevRole,
		"AIRLOCK_SCREENSHOTS="+shots,
		"CHROMIUM="+chromium,
	)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("dashboard e2e (%s):\n%s", time.Since(start).Round(time.Millisecond), out)
	if err != nil {
		t.Fatalf("the browser test failed: %v", err)
	}
	// The job cancelled in the browser is cancelled on the server, and its
	// dependent did not run.
	v := s.wait(run.ID, time.Minute)
	if st := states(v); st["test"] != scheduler.StateCancelled || st["deploy"] == scheduler.StatePassed {
		t.Errorf("after cancelling test in the browser: got %v, want test cancelled and deploy not run", st)
	}
	if !strings.Contains(s.log(run.ID, "build"), "line 5") {
		t.Errorf("build log lacks its lines")
	}
}
