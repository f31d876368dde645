package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/airlockci/airlock/internal/wire"
)

// statefulRunner returns a Wasm runner whose plugin path holds
// statefulplugin.wasm.
func statefulRunner(t *testing.T) *Wasm {
	t.Helper()
	mod := wasmModule(t, "./testdata/statefulplugin")
	w := &Wasm{PluginPath: []string{filepath.Dir(mod)}, CacheDir: sharedCacheDir(t)}
	t.Cleanup(func() { w.Close(context.Background()) })
	return w
}

// runOnSpare runs step on w after the pool has made its spares, and fails
// the test unless the step started on one.
func runOnSpare(t *testing.T, w *Wasm, step Step) (Result, string) {
	t.Helper()
	w.pool.wait()
	before := w.pool.claimed.Load()
	var log syncBuffer
	res, err := w.Run(context.Background(), step, &log)
	if err != nil {
		t.Fatal(err)
	}
	if n := w.pool.claimed.Load() - before; n != 1 {
		t.Fatalf("the step started on %d spares, want 1; log:\n%s", n, log.String())
	}
	return res, log.String()
}

// A step on a spare made while an earlier step ran sees none of that
// step's global state, workspace or output.
func TestWasmPoolIsolation(t *testing.T) {
	w := statefulRunner(t)
	const mark = "mark-of-step-a"
	dirA := t.TempDir()
	stepA := Step{Dir: dirA, Plugin: &wire.Plugin{
		Module: "statefulplugin.wasm", Function: "remember", Workspace: WorkspaceReadWrite,
		Config: []byte(`{"mark":"` + mark + `","path":"a.txt"}`),
	}}
	var logA syncBuffer
	if res, err := w.Run(context.Background(), stepA, &logA); err != nil || res.ExitStatus != 0 {
		t.Fatalf("step A: %+v, %v; log:\n%s", res, err, logA.String())
	}
	for _, want := range []string{"statefulplugin initialised\n", "stdout " + mark, "stderr " + mark, "log " + mark, "write: <nil>"} {
		if !strings.Contains(logA.String(), want) {
			t.Errorf("step A's log:\n%s\nwant %q in it", logA.String(), want)
		}
	}
	if b, err := os.ReadFile(filepath.Join(dirA, "a.txt")); string(b) != mark {
		t.Fatalf("step A wrote %q, %v; want %q", b, err, mark)
	}

	tests := []struct {
		name      string
		workspace string
		dir       string
		wantRead  string
		wantDir   string
	}{
		{"own workspace, read-write", WorkspaceReadWrite, t.TempDir(), `read "" open /workspace/a.txt: No such file or directory`, `entries [] <nil>`},
		{"own workspace, read-only", WorkspaceReadOnly, t.TempDir(), `read "" open /workspace/a.txt: No such file or directory`, `entries [] <nil>`},
		// The step's Dir is A's workspace, but the step does not grant it.
		{"no workspace", "", dirA, `read "" open /workspace/a.txt: No such file or directory`, `entries [] <nil>`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step := Step{Dir: tt.dir, Plugin: &wire.Plugin{
				Module: "statefulplugin.wasm", Function: "recall", Workspace: tt.workspace,
				Config: []byte(`{"path":"a.txt"}`),
			}}
			res, log := runOnSpare(t, w, step)
			if res.ExitStatus != 0 {
				t.Fatalf("got %+v; log:\n%s", res, log)
			}
			for _, want := range []string{`remembered "" initialised 1`, tt.wantRead, tt.wantDir} {
				if !strings.Contains(log, want) {
					t.Errorf("log:\n%s\nwant %q in it", log, want)
				}
			}
			if strings.Contains(log, mark) {
				t.Errorf("step B's log has step A's mark:\n%s", log)
			}
			if n := strings.Count(log, "statefulplugin initialised\n"); n != 1 {
				t.Errorf("step B's log has its instance's initialisation output %d times, want once:\n%s", n, log)
			}
		})
	}
	if b, err := os.ReadFile(filepath.Join(dirA, "a.txt")); string(b) != mark {
		t.Errorf("A's workspace changed: a.txt is %q, %v", b, err)
	}
}

// The workspace a spare's step is granted is that step's, with that
// step's access, and a later spare gets the next step's.
func TestWasmPoolWorkspacePerStep(t *testing.T) {
	w := testRunner(t)
	w.Run(context.Background(), pluginStep(t, "noop", ""), io.Discard) // fills the pool
	for _, access := range []string{WorkspaceReadOnly, WorkspaceReadWrite, ""} {
		t.Run("access "+access, func(t *testing.T) {
			step := pluginStep(t, "capabilities", `{"path":"data.txt"}`)
			step.Plugin.Workspace = access
			data := "data for " + access
			if err := os.WriteFile(filepath.Join(step.Dir, "data.txt"), []byte(data), 0o644); err != nil {
				t.Fatal(err)
			}
			_, log := runOnSpare(t, w, step)
			wantRead := fmt.Sprintf("read workspace: %q <nil>", data)
			wantWriteFails := access != WorkspaceReadWrite
			if access == "" {
				wantRead = `read workspace: "" open /workspace/data.txt: No such file or directory`
			}
			if !strings.Contains(log, wantRead) || !strings.Contains(log, fmt.Sprintf("write workspace: %v", wantWriteFails)) {
				t.Errorf("log:\n%s\nwant %q and write failing %v", log, wantRead, wantWriteFails)
			}
			_, err := os.Stat(filepath.Join(step.Dir, "new"))
			if created := err == nil; created != !wantWriteFails {
				t.Errorf("the plugin created a file: %v, want %v", created, !wantWriteFails)
			}
		})
	}
}

// Allowed hosts and secrets are the claiming step's.
func TestWasmPoolHostsAndSecretsPerStep(t *testing.T) {
	srv := newTLSServer(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "hello") }))
	w := testRunner(t)
	w.net = srv.testPolicy()
	url := "https://example.com:" + srv.port() + "/ok"

	allowed := pluginStep(t, "fetch", `{"url":"`+url+`"}`)
	allowed.Plugin.AllowHosts = []string{"example.com"}
	if res, err := w.Run(context.Background(), allowed, io.Discard); err != nil || res.ExitStatus != 0 {
		t.Fatalf("first step: %+v, %v", res, err)
	}
	res, log := runOnSpare(t, w, pluginStep(t, "fetch", `{"url":"`+url+`"}`))
	if res.ExitStatus != -1 || !strings.Contains(res.Reason, "allow_hosts (empty: the step allows no host)") {
		t.Errorf("a step allowing no host: got %+v; log:\n%s", res, log)
	}
	before := srv.requests.Load()
	res, log = runOnSpare(t, w, allowed)
	if res.ExitStatus != 0 || !strings.Contains(log, `status 200 location "" body "hello"`) || srv.requests.Load() != before+1 {
		t.Errorf("a step allowing the host: got %+v; log:\n%s", res, log)
	}

	withSecret := pluginStep(t, "secret", `{"name":"TOKEN","body":"s3cr3t"}`)
	withSecret.Secrets = map[string]string{"TOKEN": "s3cr3t"}
	if res, log := runOnSpare(t, w, withSecret); res.ExitStatus != 0 || !strings.Contains(log, "secret TOKEN: 6 bytes, matches true") {
		t.Errorf("a step declaring the secret: got %+v; log:\n%s", res, log)
	}
	res, log = runOnSpare(t, w, pluginStep(t, "secret", `{"name":"TOKEN"}`))
	if res.ExitStatus != -1 || res.Reason != `plugin asked for secret "TOKEN", which the step does not declare` {
		t.Errorf("a step not declaring the secret: got %+v; log:\n%s", res, log)
	}
}

// The step's timeout stops a guest on a spare, each time.
func TestWasmPoolTimeout(t *testing.T) {
	w := testRunner(t)
	w.Run(context.Background(), pluginStep(t, "noop", ""), io.Discard)
	for i := range 3 {
		step := pluginStep(t, "loop", "")
		step.Timeout = 100 * time.Millisecond
		if res, log := runOnSpare(t, w, step); res.ExitStatus != -1 || res.Reason != ReasonTimedOut {
			t.Errorf("run %d: got %+v, want %q; log:\n%s", i, res, ReasonTimedOut, log)
		}
	}
	if res, log := runOnSpare(t, w, pluginStep(t, "run", `{"status":3}`)); res.ExitStatus != 3 {
		t.Errorf("after the timeouts: got %+v; log:\n%s", res, log)
	}
}

// A step with another memory cap needs another compiled module, so it
// cannot use a spare of the first: it gets an instance of its own.
func TestWasmPoolMemoryCapNotShared(t *testing.T) {
	w := testRunner(t)
	w.Run(context.Background(), pluginStep(t, "noop", ""), io.Discard)
	w.pool.wait()
	before := w.pool.claimed.Load()
	step := pluginStep(t, "alloc", `{"mib":20}`)
	step.Plugin.MemoryBytes = 16 << 20
	var log syncBuffer
	res, err := w.Run(context.Background(), step, &log)
	if err != nil || res.ExitStatus != -1 || !strings.Contains(log.String(), "memory cap 16 MiB") {
		t.Errorf("got %+v, %v; want the plugin stopped at 16 MiB; log:\n%s", res, err, log.String())
	}
	if n := w.pool.claimed.Load() - before; n != 0 {
		t.Errorf("the step started on a spare made for another memory cap")
	}
	// Its own spares have its cap.
	if res, log := runOnSpare(t, w, step); res.ExitStatus != -1 || !strings.Contains(log, "memory cap 16 MiB") {
		t.Errorf("on a spare: got %+v; log:\n%s", res, log)
	}
}

func TestWasmRefusesInitExport(t *testing.T) {
	w := testRunner(t)
	res, err := w.Run(context.Background(), pluginStep(t, initExport, ""), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "is not a plugin function") {
		t.Errorf("got %+v, %v; want an error", res, err)
	}
}

// Close closes the spares and stops the goroutines making them, even one
// in progress.
func TestWasmPoolClose(t *testing.T) {
	for _, waitForSpare := range []bool{true, false} {
		t.Run(fmt.Sprintf("spare made %v", waitForSpare), func(t *testing.T) {
			mod := wasmModule(t, "./testdata/testplugin")
			w := &Wasm{PluginPath: []string{filepath.Dir(mod)}, CacheDir: sharedCacheDir(t)}
			if res, err := w.Run(context.Background(), pluginStep(t, "noop", ""), io.Discard); err != nil || res.ExitStatus != 0 {
				t.Fatalf("%+v, %v", res, err)
			}
			var spare *pluginInstance
			if waitForSpare {
				w.pool.wait()
				if n := w.pool.spares(); n != DefaultSparesPerModule {
					t.Fatalf("%d spares, want %d", n, DefaultSparesPerModule)
				}
				for _, m := range w.pool.modules {
					spare = m.spares[0]
				}
			}
			if err := w.Close(context.Background()); err != nil {
				t.Fatal(err)
			}
			if n := w.pool.spares(); n != 0 {
				t.Errorf("%d spares after Close", n)
			}
			if spare != nil {
				if _, _, err := spare.plugin.Call("noop", nil); err == nil || !strings.Contains(err.Error(), "closed") {
					t.Errorf("a call to a spare after Close: %v, want it closed", err)
				}
			}
			buf := make([]byte, 1<<20)
			if stacks := buf[:runtime.Stack(buf, true)]; bytes.Contains(stacks, []byte("(*instancePool).fill")) {
				t.Errorf("a fill goroutine outlived Close:\n%s", stacks)
			}
		})
	}
}

// Spares are kept for at most maxPooledModules modules.
func TestWasmPoolBound(t *testing.T) {
	w := testRunner(t)
	for i := range maxPooledModules + 2 {
		step := pluginStep(t, "noop", "")
		step.Plugin.MemoryBytes = int64(64+i) << 16 // a module per cap
		if res, err := w.Run(context.Background(), step, io.Discard); err != nil || res.ExitStatus != 0 {
			t.Fatalf("%+v, %v", res, err)
		}
		w.pool.wait()
	}
	if n, max := w.pool.spares(), maxPooledModules*DefaultSparesPerModule; n != max {
		t.Errorf("%d spares, want %d", n, max)
	}
}
