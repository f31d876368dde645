//go:build e2e

package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/airlockci/airlock/edge/scheduler"
	"github.com/airlockci/airlock/internal/cliauth"
	"github.com/airlockci/airlock/internal/devstack"
)

// Nothing lost: a run accepted while no agent is connected, and a job
// running while the control plane restarts, both complete after a restart
// of workerd on the same state, with the whole log.
func TestRunsSurviveControlPlaneRestart(t *testing.T) {
	s := startStack(t, "")
	queued := s.submit(scheduler.SubmitRequest{Pipeline: "steps:\n  - key: a\n    command: echo queued-before-restart\n"})
	s.restart()
	if got := s.run(queued.ID); got.State != scheduler.RunRunning || got.Jobs[0].State != scheduler.StateQueued {
		t.Fatalf("after restart: got %s/%s, want the run still queued", got.State, got.Jobs[0].State)
	}
	startAgent(t, s, "e2e-durable", 1)
	if got := s.wait(queued.ID, time.Minute); got.State != scheduler.RunPassed {
		t.Fatalf("queued run: got %s, want passed", got.State)
	}

	// A job that prints, waits through the restart, and prints again.
	running := s.submit(scheduler.SubmitRequest{Pipeline: "steps:\n  - key: slow\n    command: 'for i in $(seq 1 40); do echo line $i; sleep 0.2; done'\n"})
	deadline := time.Now().Add(30 * time.Second)
	for s.run(running.ID).Jobs[0].LogSeq < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the job never started logging")
		}
		time.Sleep(50 * time.Millisecond)
	}
	s.restart()
	got := s.wait(running.ID, 2*time.Minute)
	if got.State != scheduler.RunPassed || got.Jobs[0].Attempt != 1 {
		t.Fatalf("run across restart: got %s attempt %d, want passed on attempt 1", got.State, got.Jobs[0].Attempt)
	}
	var want strings.Builder
	for i := 1; i <= 40; i++ {
		want.WriteString("line " + strconv.Itoa(i) + "\n")
	}
	if log := s.log(running.ID, "slow"); !strings.HasSuffix(log, want.String()) || strings.Count(log, "line 1\n") != 1 {
		t.Fatalf("log across restart: got\n%s\nwant every line exactly once, in order", log)
	}
}

// The CLI: lint with positions, run --follow with a non-zero exit on failure,
// and run --local with the same scheduler in-process.
func TestCLI(t *testing.T) {
	s := shared(t)
	startAgent(t, s, "e2e-cli", 2)
	bin := filepath.Join(repoRoot(t), "build/bin/airlock")
	repo, _ := gitRepo(t, map[string]string{
		"ok.yml":     "steps:\n  - key: a\n    command: echo from-a\n  - key: b\n    command: echo from-b\n    depends_on: a\n",
		"fail.yml":   "steps:\n  - key: a\n    command: exit 4\n  - key: b\n    command: echo never\n    depends_on: a\n",
		"bad.yml":    "steps:\n  - key: a\n    command: x\n    timeout_in_minuts: 3\n",
		"plugin.yml": "steps:\n  - key: sum\n    wasm:\n      module: checksum.wasm\n      workspace: read-only\n      config: {files: [ok.yml]}\n",
	})
	creds := filepath.Join(t.TempDir(), "credentials.json")
	token := s.token
	run := func(args ...string) (string, int) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = repo
		// The CLI's session, as `airlock login` would have stored it.
		cmd.Env = append(os.Environ(), "AIRLOCK_CREDENTIALS="+creds, "AIRLOCK_TOKEN="+token)
		out, err := cmd.CombinedOutput()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), code
	}
	for _, tc := range []struct {
		name     string
		args     []string
		wantCode int
		want     []string
	}{
		{"lint ok", []string{"lint", "ok.yml"}, 0, []string{"ok.yml: ok (2 steps)"}},
		{"lint bad", []string{"lint", "bad.yml"}, 1, []string{"bad.yml:4:5:", "timeout_in_minutes"}},
		{"run follow passes", []string{"run", "ok.yml", "--follow", "--server", s.cp.URL}, 0, []string{"submitted: " + s.cp.URL + "/runs/view/?id=r_", "KEY", "STATE", "AGENT", "DURATION", "e2e-cli", "from-b", "passed"}},
		{"run follow fails", []string{"run", "--server", s.cp.URL, "--follow", "fail.yml"}, 1, []string{"failed (exit 4)", "skipped", "run #"}},
		{"run refused", []string{"run", "--server", s.cp.URL, "bad.yml"}, 1, []string{"bad.yml:4:5:"}},
		{"run without a session", []string{"run", "--server", s.cp.URL, "ok.yml"}, 1, []string{"not signed in to " + s.cp.URL, "airlock login"}},
		{"run with a forged session", []string{"run", "--server", s.cp.URL, "ok.yml"}, 1, []string{"session for " + s.cp.URL + " has ended"}},
		{"run unreachable", []string{"run", "--server", "http://127.0.0.1:1", "ok.yml"}, 1, []string{"airlock run: cannot reach the control plane at http://127.0.0.1:1 (is it running? start one with make dev)"}},
		{"run server without scheme", []string{"run", "--server", "127.0.0.1:8787", "ok.yml"}, 2, []string{"--server 127.0.0.1:8787: want a URL like http://127.0.0.1:8787"}},
		{"run usage", []string{"run", "--nope"}, 2, []string{"usage: airlock run [--server URL]", "flags:", "-follow"}},
		{"login help", []string{"login", "--help"}, 0, []string{"usage: airlock login", "$AIRLOCK_CREDENTIALS", "make dev signs the CLI in for you"}},
		{"local passes", []string{"run", "--local", "--plugin-path", filepath.Join(repoRoot(t), "build/plugins"), "plugin.yml"}, 0, []string{"ok.yml", "passed"}},
		{"local fails", []string{"run", "--local", "fail.yml"}, 1, []string{"failed (exit 4)"}},
		{"plugin run", []string{"plugin", "run", filepath.Join(repoRoot(t), "build/plugins/checksum.wasm"), "--workspace", ".", "--config-json", `{"files": ["ok.yml"]}`}, 0, []string{"  ok.yml"}},
		{"plugin run refuses a wrong pin", []string{"plugin", "run", filepath.Join(repoRoot(t), "build/plugins/checksum.wasm"), "--sha256", strings.Repeat("0", 64)}, 1, []string{"plugin module refused"}},
		{"plugin run without workspace", []string{"plugin", "run", filepath.Join(repoRoot(t), "build/plugins/checksum.wasm"), "--config-json", `{"files": ["ok.yml"]}`}, 1, []string{"matches no file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token = s.token
			switch tc.name {
			case "run without a session":
				token = ""
			case "run with a forged session":
				token = s.token[:strings.Index(s.token, ".")+1] + strings.Repeat("A", 22)
			}
			out, code := run(tc.args...)
			if code != tc.wantCode {
				t.Fatalf("exit: got %d, want %d\n%s", code, tc.wantCode, out)
			}
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
		})
	}

	// airlock login over a stored session ends that session on the server
	// and says whose it was; logout then ends the new one.
	t.Run("login replaces the stored session", func(t *testing.T) {
		ctx := context.Background()
		old, err := s.sso.SignInCLI(ctx, s.cp.URL, "alice")
		if err != nil {
			t.Fatal(err)
		}
		store := cliauth.Store{Path: filepath.Join(t.TempDir(), "credentials.json")}
		if err := store.Save(s.cp.URL, old); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(bin, "login", "--server", s.cp.URL)
		cmd.Env = append(os.Environ(), "AIRLOCK_CREDENTIALS="+store.Path, "AIRLOCK_TOKEN=")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr strings.Builder
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer cmd.Process.Kill()
		var out strings.Builder
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			out.WriteString(lines.Text() + "\n")
			if _, rest, ok := strings.Cut(lines.Text(), "confirm the code "); ok {
				if err := s.sso.IdP.ApproveDevice(strings.Fields(rest)[0], "bob"); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := cmd.Wait(); err != nil {
			t.Fatalf("airlock login: %v\n%s%s", err, out.String(), stderr.String())
		}
		for _, w := range []string{"Replacing the session of alice@example.com.", "as bob@example.com"} {
			if !strings.Contains(out.String(), w) {
				t.Errorf("output lacks %q:\n%s", w, out.String())
			}
		}
		var ae *cliauth.APIError
		if _, err := cliauth.Me(ctx, &http.Client{}, s.cp.URL, old); !errors.As(err, &ae) || ae.Status != 401 {
			t.Errorf("the replaced session: got %v, want 401 (ended)", err)
		}
		t.Setenv("AIRLOCK_TOKEN", "")
		current, _ := store.Token(s.cp.URL)
		if u, err := cliauth.Me(ctx, &http.Client{}, s.cp.URL, current); err != nil || u.Email != "bob@example.com" {
			t.Fatalf("the stored session: got %v, %v; want bob's", u, err)
		}
		// The session recorded the CLI's User-Agent (for the Sessions page).
		req, _ := http.NewRequest("GET", s.cp.URL+"/v1/me", nil)
		req.Header.Set("Authorization", "Bearer "+current)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var me struct {
			Session struct {
				UserAgent string `json:"user_agent"`
			} `json:"session"`
		}
		err = json.NewDecoder(resp.Body).Decode(&me)
		resp.Body.Close()
		if err != nil || !strings.HasPrefix(me.Session.UserAgent, "airlock-cli/dev (") {
			t.Errorf("the session's user agent: got %q, %v; want airlock-cli/dev (host; os/arch)", me.Session.UserAgent, err)
		}
		logout := exec.Command(bin, "logout", "--server", s.cp.URL)
		logout.Env = cmd.Env
		if b, err := logout.CombinedOutput(); err != nil {
			t.Fatalf("airlock logout: %v\n%s", err, b)
		}
		if _, err := cliauth.Me(ctx, &http.Client{}, s.cp.URL, current); !errors.As(err, &ae) || ae.Status != 401 {
			t.Errorf("after logout: got %v, want 401", err)
		}
	})
}

// Revocation is instant: with requests of a session constantly in flight,
// not one request sent after the revoke call returned is accepted.
func TestRevocationIsInstant(t *testing.T) {
	s := shared(t)
	ctx := context.Background()
	victim, err := s.sso.SignInCLI(ctx, s.cp.URL, "alice")
	if err != nil {
		t.Fatal(err)
	}
	r, err := devstack.MeasureRevocation(ctx, s.cp.URL, victim, s.token, 4, 200*time.Millisecond, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("revocation: %+v", r)
	if r.AcceptedAfter != 0 {
		t.Errorf("%d requests sent after the revoke returned were accepted; want 0", r.AcceptedAfter)
	}
	if r.RefusedAfter == 0 {
		t.Errorf("no request was sent after the revoke: the measurement saw nothing (%+v)", r)
	}
	// The admin's own session is untouched.
	if code, body, _ := s.do("GET", "/v1/me", nil); code != 200 {
		t.Errorf("the revoking session: got %d %s, want 200", code, body)
	}
}
