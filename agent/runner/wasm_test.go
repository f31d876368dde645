package runner

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockci/airlock/internal/wire"
)

// The plugins the tests run are built from source on first use, once per
// test binary, into buildDir. A build takes a few seconds; the go build
// cache makes later runs fast.
var (
	buildDirOnce sync.Once
	buildDir     string
	buildDirErr  error
	builds       sync.Map // package dir → *moduleBuild
)

type moduleBuild struct {
	once sync.Once
	path string
	err  error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// wasmModule returns the path of the plugin built from pkgDir (relative to
// this package), building it if needed.
func wasmModule(t testing.TB, pkgDir string) string {
	t.Helper()
	buildDirOnce.Do(func() { buildDir, buildDirErr = os.MkdirTemp("", "airlock-runner-test-") })
	if buildDirErr != nil {
		t.Fatal(buildDirErr)
	}
	v, _ := builds.LoadOrStore(pkgDir, &moduleBuild{})
	b := v.(*moduleBuild)
	b.once.Do(func() {
		b.path = filepath.Join(buildDir, filepath.Base(pkgDir)+".wasm")
		cmd := exec.Command("go", "build", "-buildmode=c-shared", "-o", b.path, pkgDir)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = errors.New("go build " + pkgDir + ": " + err.Error() + "\n" + string(out))
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// sharedCacheDir lets the tests share compiled code, so that only the first
// to run a module pays for compiling it.
func sharedCacheDir(t testing.TB) string {
	wasmModule(t, "./testdata/testplugin")
	return filepath.Join(buildDir, "cache")
}

// testRunner returns a Wasm runner whose plugin path holds testplugin.wasm.
func testRunner(t *testing.T) *Wasm {
	t.Helper()
	mod := wasmModule(t, "./testdata/testplugin")
	w := &Wasm{PluginPath: []string{filepath.Dir(mod)}, CacheDir: sharedCacheDir(t)}
	t.Cleanup(func() { w.Close(context.Background()) })
	return w
}

func pluginStep(t *testing.T, function, config string) Step {
	return Step{
		Dir:    t.TempDir(),
		Plugin: &wire.Plugin{Module: "testplugin.wasm", Function: function, Config: []byte(config)},
	}
}

func TestWasmInputLogAndOutput(t *testing.T) {
	w := testRunner(t)
	step := pluginStep(t, "", `{"status":0}`)
	step.Env = []string{"FLAG=NO", "VERSION=1.10", "EMPTY="}
	var log syncBuffer
	res, err := w.Run(context.Background(), step, &log)
	if err != nil {
		t.Fatal(err)
	}
	if res != (Result{}) {
		t.Errorf("got %+v, want exit 0", res)
	}
	want := `input {"config":{"status":0},"env":{"EMPTY":"","FLAG":"NO","VERSION":"1.10"}}` + "\n" +
		"warning: careful\n" +
		"status 0\n"
	if got := log.String(); got != want {
		t.Errorf("log:\n%s\nwant:\n%s", got, want)
	}
}

func TestWasmDefaultConfig(t *testing.T) {
	w := testRunner(t)
	var log syncBuffer
	if _, err := w.Run(context.Background(), pluginStep(t, "run", ""), &log); err != nil {
		t.Fatal(err)
	}
	if want := `input {"config":{},"env":{}}`; !strings.Contains(log.String(), want) {
		t.Errorf("log %q does not contain %q", log.String(), want)
	}
}

func TestWasmExitStatus(t *testing.T) {
	tests := []struct {
		function, config string
		want             Result
		wantLog          string
	}{
		{"run", `{"status":3}`, Result{ExitStatus: 3}, "status 3\n"},
		{"run", `{"status":-2}`, Result{ExitStatus: -2}, "status -2\n"},
		{"seterror", `{}`, Result{ExitStatus: 4}, "error: bad config: no files\n"},
		{"stdio", `{}`, Result{}, "to stdout\nto stderr\n"},
	}
	w := testRunner(t)
	for _, tt := range tests {
		t.Run(tt.function+tt.config, func(t *testing.T) {
			var log syncBuffer
			res, err := w.Run(context.Background(), pluginStep(t, tt.function, tt.config), &log)
			if err != nil {
				t.Fatal(err)
			}
			if res != tt.want {
				t.Errorf("got %+v, want %+v", res, tt.want)
			}
			if got := log.String(); !strings.HasSuffix(got, tt.wantLog) {
				t.Errorf("log = %q, want it to end with %q", got, tt.wantLog)
			}
		})
	}
}

func TestWasmPanicDoesNotCrashHost(t *testing.T) {
	w := testRunner(t)
	var log syncBuffer
	res, err := w.Run(context.Background(), pluginStep(t, "panic", ""), &log)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != -1 || !strings.HasPrefix(res.Reason, "plugin crashed: ") {
		t.Errorf("got %+v, want exit -1 and a reason saying the plugin crashed", res)
	}
	if !strings.Contains(log.String(), "panic: boom") {
		t.Errorf("log %q does not show the panic", log.String())
	}
	// The runner still works afterwards.
	if res, err := w.Run(context.Background(), pluginStep(t, "run", ""), io.Discard); err != nil || res.ExitStatus != 0 {
		t.Errorf("run after a panic: %+v, %v", res, err)
	}
}

func TestWasmTimeoutStopsInfiniteLoop(t *testing.T) {
	w := testRunner(t)
	step := pluginStep(t, "loop", "")
	step.Timeout = time.Second
	var log syncBuffer
	start := time.Now()
	res, err := w.Run(context.Background(), step, &log)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != -1 || res.Reason != ReasonTimedOut {
		t.Errorf("got %+v, want exit -1 reason %q", res, ReasonTimedOut)
	}
	if !strings.Contains(log.String(), "looping") {
		t.Errorf("log %q: the loop never started", log.String())
	}
	if elapsed > 10*time.Second {
		t.Errorf("Run took %v for a 1s timeout", elapsed)
	}
}

func TestWasmCancelStopsInfiniteLoop(t *testing.T) {
	w := testRunner(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan runResult, 1)
	go func() {
		res, err := w.Run(ctx, pluginStep(t, "loop", ""), pw)
		pw.Close()
		done <- runResult{res, err}
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil || line != "looping\n" {
		t.Fatalf("first line = %q, %v; want %q", line, err, "looping\n")
	}
	cancel()
	go io.Copy(io.Discard, pr)
	r := <-done
	if r.err != nil || r.res.ExitStatus != -1 || r.res.Reason != ReasonCancelled {
		t.Errorf("got %+v, %v; want exit -1 reason %q", r.res, r.err, ReasonCancelled)
	}
}

func TestWasmStreamsLog(t *testing.T) {
	w := testRunner(t)
	step := pluginStep(t, "wait", `{"wait":"release"}`)
	step.Plugin.Workspace = WorkspaceReadOnly
	pr, pw := io.Pipe()
	done := make(chan runResult, 1)
	go func() {
		res, err := w.Run(context.Background(), step, pw)
		pw.Close()
		done <- runResult{res, err}
	}()
	br := bufio.NewReader(pr)
	if line, err := br.ReadString('\n'); err != nil || line != "first\n" {
		t.Fatalf("first line = %q, %v; want %q", line, err, "first\n")
	}
	// The plugin waits for the release file, so it cannot have ended.
	select {
	case r := <-done:
		t.Fatalf("step ended (%+v) before it was released", r.res)
	default:
	}
	if err := os.WriteFile(filepath.Join(step.Dir, "release"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(br)
	if string(rest) != "second\n" {
		t.Errorf("rest of log = %q, want %q", rest, "second\n")
	}
	if r := <-done; r.err != nil || r.res.ExitStatus != 0 {
		t.Errorf("got %+v, %v; want exit 0", r.res, r.err)
	}
}

func TestWasmMemoryCap(t *testing.T) {
	tests := []struct {
		name     string
		pages    uint32
		mib      string
		wantExit int
	}{
		{"small allocation fits the default cap", 0, "4", 0},
		{"64 MiB exceeds the default 32 MiB cap", 0, "64", -1},
		{"64 MiB fits a raised cap", 4096, "64", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := testRunner(t)
			w.MaxMemoryPages = tt.pages
			var log syncBuffer
			res, err := w.Run(context.Background(), pluginStep(t, "alloc", `{"mib":`+tt.mib+`}`), &log)
			if err != nil {
				t.Fatal(err)
			}
			if res.ExitStatus != tt.wantExit {
				t.Errorf("got %+v, want exit %d; log:\n%s", res, tt.wantExit, log.String())
			}
			if tt.wantExit == 0 && !strings.Contains(log.String(), "allocated "+tt.mib+" MiB") {
				t.Errorf("log %q lacks the allocation", log.String())
			}
			if tt.wantExit != 0 && !strings.Contains(log.String(), "fatal error: out of memory") {
				t.Errorf("log lacks the plugin's out of memory error:\n%s", log.String())
			}
		})
	}
}

func TestWasmCapabilities(t *testing.T) {
	w := testRunner(t)
	t.Setenv("AIRLOCK_TEST_SECRET", "agent-only")
	step := pluginStep(t, "capabilities", `{"path":"sub/in.txt"}`)
	step.Plugin.Workspace = WorkspaceReadOnly
	step.Env = []string{"STEP=1"}
	mustMkdir(t, filepath.Join(step.Dir, "sub"))
	if err := os.WriteFile(filepath.Join(step.Dir, "sub", "in.txt"), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	var log syncBuffer
	if _, err := w.Run(context.Background(), step, &log); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`read workspace: "hello" <nil>`,
		"write workspace: true",
		"read /etc/passwd: true",
		"environ []",
	} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	if _, err := os.Stat(filepath.Join(step.Dir, "new")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the plugin wrote into the read-only workspace: stat: %v", err)
	}
}

func TestWasmNoNetwork(t *testing.T) {
	w := testRunner(t)
	var log syncBuffer
	res, err := w.Run(context.Background(), pluginStep(t, "http", ""), &log)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != -1 || !strings.Contains(res.Reason, "http://127.0.0.1:9/: only https URLs are allowed") {
		t.Errorf("got %+v, want exit -1 and the request refused; log:\n%s", res, log.String())
	}
	if strings.Contains(log.String(), "http status") {
		t.Errorf("the request got an answer:\n%s", log.String())
	}
}

func TestWasmWorkspaceSymlinks(t *testing.T) {
	w := testRunner(t)
	outside := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(outside, []byte("agent secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"link inside the workspace", "inside", `read workspace: "data" <nil>`},
		{"link to a file outside", "out-file", `read workspace: ""`},
		{"link to a directory outside", "out-dir/secret", `read workspace: ""`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step := pluginStep(t, "capabilities", `{"path":"`+tt.path+`"}`)
			step.Plugin.Workspace = WorkspaceReadOnly
			writeFiles(t, step.Dir, map[string]string{"data.txt": "data"})
			mustSymlink(t, "data.txt", filepath.Join(step.Dir, "inside"))
			mustSymlink(t, outside, filepath.Join(step.Dir, "out-file"))
			mustSymlink(t, filepath.Dir(outside), filepath.Join(step.Dir, "out-dir"))
			var log syncBuffer
			if _, err := w.Run(context.Background(), step, &log); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), tt.want) || strings.Contains(log.String(), "agent secret") {
				t.Errorf("log lacks %q (or shows the secret):\n%s", tt.want, log.String())
			}
		})
	}
}

func TestWasmSHA256Pin(t *testing.T) {
	mod := wasmModule(t, "./testdata/testplugin")
	b, err := os.ReadFile(mod)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	good := hex.EncodeToString(sum[:])
	bad := strings.Repeat("0", 64)

	w := &Wasm{PluginPath: []string{filepath.Dir(mod)}} // in-memory cache: counts every compile
	defer w.Close(context.Background())
	step := pluginStep(t, "run", "")
	step.Plugin.SHA256 = bad
	res, err := w.Run(context.Background(), step, io.Discard)
	if !errors.Is(err, ErrModuleRefused) {
		t.Fatalf("Run with a wrong pin: %+v, %v; want ErrModuleRefused", res, err)
	}
	for _, h := range []string{good, bad} {
		if !strings.Contains(err.Error(), h) {
			t.Errorf("error %q does not name hash %s", err, h)
		}
	}
	if n := w.compiles.Load(); n != 0 {
		t.Errorf("%d compiles before the pin was checked, want 0", n)
	}

	step.Plugin.SHA256 = strings.ToUpper(good)
	if res, err := w.Run(context.Background(), step, io.Discard); err != nil || res.ExitStatus != 0 {
		t.Errorf("Run with the right pin: %+v, %v", res, err)
	}
}

func TestWasmModuleResolution(t *testing.T) {
	mod := wasmModule(t, "./testdata/testplugin")
	modBytes, err := os.ReadFile(mod)
	if err != nil {
		t.Fatal(err)
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "evil.wasm"), modBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	ws := t.TempDir()
	mustMkdir(t, filepath.Join(ws, "tools"))
	if err := os.WriteFile(filepath.Join(ws, "tools", "p.wasm"), modBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	mustSymlink(t, filepath.Join(outside, "evil.wasm"), filepath.Join(ws, "link.wasm"))
	mustSymlink(t, outside, filepath.Join(ws, "outdir"))
	mustSymlink(t, "tools/p.wasm", filepath.Join(ws, "inside.wasm"))
	emptyPathDir := t.TempDir()

	sum := sha256.Sum256(modBytes)
	pin := hex.EncodeToString(sum[:])
	tests := []struct {
		module  string
		wantErr string // "" for a run that succeeds
		refused bool
		noPin   bool
	}{
		{"testplugin.wasm", "", false, false},                 // second dir of the plugin path
		{"tools/p.wasm", "", false, false},                    // relative to the workspace
		{"./tools/../tools/p.wasm", "", false, false},         // cleaned, stays inside
		{"./inside.wasm", "", false, false},                   // symlink that stays inside
		{"../evil.wasm", "leaves the workspace", true, false}, //
		{"tools/../../evil.wasm", "leaves the workspace", true, false},
		{"./link.wasm", "plugin module refused", true, false}, // symlink to a file outside
		{"outdir/evil.wasm", "plugin module refused", true, false},
		{filepath.Join(outside, "evil.wasm"), "absolute path", true, false},
		{"https://example.com/p.wasm", "a module from a URL needs a sha256 pin", true, true},
		{"tools/p.wasm", "a module from the workspace needs a sha256 pin (this one is " + pin + ")", true, true},
		{"http://example.com/p.wasm", "plugin module refused", true, false},
		{"missing.wasm", "not found in the plugin path", false, false},
		{"tools/missing.wasm", "not found in the workspace", false, false},
		{"..", "not a file name", true, false},
	}
	w := &Wasm{PluginPath: []string{emptyPathDir, filepath.Dir(mod)}, CacheDir: sharedCacheDir(t)}
	defer w.Close(context.Background())
	for _, tt := range tests {
		t.Run(tt.module, func(t *testing.T) {
			step := Step{Dir: ws, Plugin: &wire.Plugin{Module: tt.module, SHA256: pin}}
			if tt.noPin {
				step.Plugin.SHA256 = ""
			}
			res, err := w.Run(context.Background(), step, io.Discard)
			if tt.wantErr == "" {
				if err != nil || res.ExitStatus != 0 {
					t.Errorf("got %+v, %v; want exit 0", res, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %+v, %v; want an error containing %q", res, err, tt.wantErr)
			}
			if errors.Is(err, ErrModuleRefused) != tt.refused {
				t.Errorf("errors.Is(%v, ErrModuleRefused) = %v, want %v", err, !tt.refused, tt.refused)
			}
			if res.ExitStatus != -1 {
				t.Errorf("exit status = %d, want -1", res.ExitStatus)
			}
		})
	}
}

func TestWasmCannotStart(t *testing.T) {
	w := testRunner(t)
	tests := []struct {
		name    string
		step    Step
		wantErr string
	}{
		{"no plugin", Step{Dir: t.TempDir(), Commands: []string{"true"}}, "no plugin"},
		{"missing function", pluginStep(t, "nope", ""), `does not export function "nope"`},
		{"bad config", pluginStep(t, "run", "{"), "config is not valid JSON"},
		{"bad env", Step{Dir: t.TempDir(), Env: []string{"NOEQUALS"}, Plugin: &wire.Plugin{Module: "testplugin.wasm"}}, `env entry "NOEQUALS"`},
		{"no module", Step{Dir: t.TempDir(), Plugin: &wire.Plugin{}}, "no module"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := w.Run(context.Background(), tt.step, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("got %+v, %v; want an error containing %q", res, err, tt.wantErr)
			}
			if res.ExitStatus != -1 || res.Reason != err.Error() {
				t.Errorf("result = %+v, want exit -1 with the error as reason", res)
			}
		})
	}
}

func TestWasmCompilationCache(t *testing.T) {
	mod := wasmModule(t, "./testdata/testplugin")
	cacheDir := t.TempDir()
	run := func(w *Wasm) {
		t.Helper()
		if res, err := w.Run(context.Background(), pluginStep(t, "run", ""), io.Discard); err != nil || res.ExitStatus != 0 {
			t.Fatalf("Run: %+v, %v", res, err)
		}
	}

	first := &Wasm{PluginPath: []string{filepath.Dir(mod)}, CacheDir: cacheDir}
	defer first.Close(context.Background())
	run(first)
	afterFirst := snapshotDir(t, cacheDir)
	if len(afterFirst) == 0 {
		t.Fatalf("cache dir %s is empty after the first run", cacheDir)
	}
	run(first)
	if n := first.compiles.Load(); n != 1 {
		t.Errorf("runner compiled %d times for two runs of one module, want 1", n)
	}

	// A new runner (as after an agent restart) finds the code on disk:
	// nothing new is written.
	second := &Wasm{PluginPath: []string{filepath.Dir(mod)}, CacheDir: cacheDir}
	defer second.Close(context.Background())
	run(second)
	if afterSecond := snapshotDir(t, cacheDir); !maps.Equal(afterFirst, afterSecond) {
		t.Errorf("cache dir changed on a warm run:\nbefore %v\nafter  %v", afterFirst, afterSecond)
	}
}

func TestWasmConcurrentRunsCompileOnce(t *testing.T) {
	mod := wasmModule(t, "./testdata/testplugin")
	w := &Wasm{PluginPath: []string{filepath.Dir(mod)}, CacheDir: sharedCacheDir(t)}
	defer w.Close(context.Background())
	const n = 4
	results := make(chan string, n)
	for i := range n {
		go func() {
			var log syncBuffer
			step := pluginStep(t, "run", fmt.Sprintf(`{"status":%d}`, i))
			res, err := w.Run(context.Background(), step, &log)
			if err != nil || res.ExitStatus != i {
				results <- fmt.Sprintf("run %d: got %+v, %v; log %q", i, res, err, log.String())
				return
			}
			results <- ""
		}()
	}
	for range n {
		if msg := <-results; msg != "" {
			t.Error(msg)
		}
	}
	if c := w.compiles.Load(); c != 1 {
		t.Errorf("%d compiles for %d concurrent runs of one module, want 1", c, n)
	}
}

// snapshotDir maps every file under dir to its size and modification time.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		files[path] = fmt.Sprintf("%d bytes, modified %v", info.Size(), info.ModTime())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func mustMkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}

func mustSymlink(t *testing.T, target, link string) {
	t.Helper()
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
}
