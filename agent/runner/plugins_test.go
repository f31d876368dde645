package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/airlockci/airlock/internal/wire"
)

// The example plugins of plugins/, built and run for real.

func examplePluginRunner(t *testing.T) *Wasm {
	t.Helper()
	w := &Wasm{CacheDir: sharedCacheDir(t)}
	t.Cleanup(func() { w.Close(context.Background()) })
	return w
}

// writeFiles creates files (path → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		mustMkdir(t, filepath.Dir(p))
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runExample runs the plugin built from plugins/<name>, copied into the
// workspace so that it is found by a relative path.
func runExample(t *testing.T, name, dir, config string, env ...string) (Result, string) {
	t.Helper()
	mod, err := os.ReadFile(wasmModule(t, "../../plugins/"+name))
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{".airlock/" + name + ".wasm": string(mod)})
	sum := sha256.Sum256(mod)
	var log syncBuffer
	res, err := examplePluginRunner(t).Run(context.Background(), Step{
		Dir: dir,
		Env: env,
		Plugin: &wire.Plugin{
			Module:    ".airlock/" + name + ".wasm",
			SHA256:    hex.EncodeToString(sum[:]),
			Config:    []byte(config),
			Workspace: WorkspaceReadOnly,
		},
	}, &log)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	return res, log.String()
}

func TestExampleTemplate(t *testing.T) {
	res, log := runExample(t, "template", t.TempDir(), `{"name":"Ada"}`, "B=2", "A=1")
	if want := "hello, Ada\nenv A\nenv B\n"; res.ExitStatus != 0 || log != want {
		t.Errorf("got %+v, log %q; want exit 0, log %q", res, log, want)
	}
}

func TestExampleChecksum(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"dist/app.tar.gz": "app",
		"dist/app.zip":    "zip",
	})
	// The reference is written by the real sha256sum where there is one.
	var sums string
	if _, err := exec.LookPath("sha256sum"); err == nil {
		cmd := exec.Command("sha256sum", "app.tar.gz", "app.zip")
		cmd.Dir = filepath.Join(dir, "dist")
		out, err := cmd.Output()
		if err != nil {
			t.Fatal(err)
		}
		sums = string(out)
	} else {
		for _, name := range []string{"app.tar.gz", "app.zip"} {
			b, _ := os.ReadFile(filepath.Join(dir, "dist", name))
			sum := sha256.Sum256(b)
			sums += hex.EncodeToString(sum[:]) + "  " + name + "\n"
		}
	}
	writeFiles(t, dir, map[string]string{"dist/SHA256SUMS": sums})

	res, log := runExample(t, "checksum", dir, `{"files":["dist/app.*"],"verify":"dist/SHA256SUMS"}`)
	if res.ExitStatus != 0 {
		t.Errorf("got %+v, want exit 0; log:\n%s", res, log)
	}
	for _, line := range strings.Split(strings.TrimSpace(sums), "\n") {
		hash, file, _ := strings.Cut(line, "  ")
		if want := hash + "  dist/" + file + "\n"; !strings.Contains(log, want) {
			t.Errorf("log lacks %q:\n%s", want, log)
		}
	}
	if !strings.Contains(log, "checksum: all 2 files listed in dist/SHA256SUMS match") {
		t.Errorf("log lacks the verification:\n%s", log)
	}

	// A changed artifact fails the step.
	writeFiles(t, dir, map[string]string{"dist/app.zip": "tampered"})
	res, log = runExample(t, "checksum", dir, `{"verify":"dist/SHA256SUMS"}`)
	if res.ExitStatus != 1 || !strings.Contains(log, "error: dist/app.zip: FAILED (sha256 is ") {
		t.Errorf("got %+v, want exit 1 and a FAILED line; log:\n%s", res, log)
	}
}

func TestExampleJUnitSummary(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"reports/unit.xml": `<testsuite name="s">
  <testcase classname="pkg" name="TestOK" time="0.1"/>
  <testcase classname="pkg" name="TestBad" time="0.2"><failure message="want 1, got 2">details</failure></testcase>
</testsuite>`,
		"reports/more/other.xml": `<testsuites><testsuite><testcase name="TestSkip"><skipped/></testcase></testsuite></testsuites>`,
	})
	res, log := runExample(t, "junit-summary", dir, `{"files":["reports/**/*.xml"]}`)
	want := "2 reports, 3 tests: 1 passed, 1 failure, 0 errors, 1 skipped (0.300s)\n" +
		"slowest:\n" +
		"     0.200s  pkg.TestBad\n" +
		"     0.100s  pkg.TestOK\n" +
		"     0.000s  TestSkip\n" +
		"FAIL  pkg.TestBad: want 1, got 2\n"
	if res.ExitStatus != 1 || log != want {
		t.Errorf("got %+v, log:\n%s\nwant exit 1, log:\n%s", res, log, want)
	}
}

func TestExampleWebhookNotify(t *testing.T) {
	var got syncBuffer
	srv := newTLSServer(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		fmt.Fprintf(&got, "%s %s %s %s", r.Method, r.URL.Path, r.Header.Get("content-type"), b)
		if r.URL.Path == "/down" {
			http.Error(rw, "down for maintenance", http.StatusServiceUnavailable)
		}
	}))
	mod := wasmModule(t, "../../plugins/webhook-notify")
	w := &Wasm{PluginPath: []string{filepath.Dir(mod)}, CacheDir: sharedCacheDir(t)}
	w.net = srv.testPolicy()
	t.Cleanup(func() { w.Close(context.Background()) })
	run := func(path string, allow ...string) (Result, string) {
		var log syncBuffer
		res, err := w.Run(context.Background(), Step{
			Env: []string{"GIT_COMMIT=abc123"},
			Plugin: &wire.Plugin{
				Module:     "webhook-notify.wasm",
				Config:     []byte(`{"url":"https://example.com:` + srv.port() + path + `","message":"deployed ${GIT_COMMIT}"}`),
				AllowHosts: allow,
			},
		}, &log)
		if err != nil {
			t.Fatal(err)
		}
		return res, log.String()
	}

	res, log := run("/hook", "example.com")
	if res.ExitStatus != 0 || !strings.Contains(log, "accepted the message (200)") {
		t.Errorf("got %+v, log %q", res, log)
	}
	if want := `POST /hook application/json {"text":"deployed abc123"}`; got.String() != want {
		t.Errorf("webhook got %q, want %q", got.String(), want)
	}
	res, log = run("/down", "example.com")
	if res.ExitStatus != 1 || !strings.Contains(log, "answered 503: down for maintenance") {
		t.Errorf("got %+v, log %q", res, log)
	}
	res, _ = run("/hook") // no allowed host
	if res.ExitStatus != -1 || !strings.Contains(res.Reason, "not in the step's allow_hosts") {
		t.Errorf("without allow_hosts: got %+v", res)
	}
}
