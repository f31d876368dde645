package runner

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	experimentalsys "github.com/tetratelabs/wazero/experimental/sys"

	"github.com/airlockci/airlock/internal/wire"
)

// jailWorkspace makes a workspace holding data.txt, sub/, and symbolic
// links to a file and a directory outside it, which holds "agent secret".
func jailWorkspace(t *testing.T) (ws, outsideDir string) {
	t.Helper()
	outsideDir = t.TempDir()
	if err := os.WriteFile(filepath.Join(outsideDir, "secret"), []byte("agent secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	ws = t.TempDir()
	writeFiles(t, ws, map[string]string{"data.txt": "data", "sub/in.txt": "in"})
	mustSymlink(t, filepath.Join(outsideDir, "secret"), filepath.Join(ws, "out-file"))
	mustSymlink(t, outsideDir, filepath.Join(ws, "out-dir"))
	mustSymlink(t, "../../../../../../../../etc/passwd", filepath.Join(ws, "up-link"))
	return ws, outsideDir
}

func TestRootFSJail(t *testing.T) {
	ws, outside := jailWorkspace(t)
	root, err := os.OpenRoot(ws)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	for _, readOnly := range []bool{true, false} {
		fsys := &rootFS{root: root, readOnly: readOnly}
		t.Run(fmt.Sprintf("readOnly=%v", readOnly), func(t *testing.T) {
			for _, p := range []string{"../../etc/passwd", "/etc/passwd", "sub/../../secret", "out-file", "out-dir/secret", "up-link", "out-dir/"} {
				if f, e := fsys.OpenFile(p, experimentalsys.O_RDONLY, 0); e == 0 {
					f.Close()
					t.Errorf("OpenFile(%q) succeeded, want it refused", p)
				}
				if _, e := fsys.Stat(p); e == 0 && p != "out-dir/" {
					t.Errorf("Stat(%q) succeeded, want it refused", p)
				}
			}
			for _, p := range []string{"data.txt", "sub/in.txt", "./sub/../data.txt", ".", "sub/"} {
				f, e := fsys.OpenFile(p, experimentalsys.O_RDONLY, 0)
				if e != 0 {
					t.Errorf("OpenFile(%q) = %v, want it opened", p, e)
					continue
				}
				f.Close()
			}
			// Creating in a directory reached through an escaping link.
			if f, e := fsys.OpenFile("out-dir/new", experimentalsys.O_RDWR|experimentalsys.O_CREAT, 0o644); e == 0 {
				f.Close()
				t.Errorf("created a file through a link out of the workspace")
			}
			if _, err := os.Stat(filepath.Join(outside, "new")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("file outside the workspace: stat = %v, want not exist", err)
			}
		})
	}

	ro := &rootFS{root: root, readOnly: true}
	if _, e := ro.OpenFile("data.txt", experimentalsys.O_WRONLY, 0); e != experimentalsys.EROFS {
		t.Errorf("read-only OpenFile for writing = %v, want EROFS", e)
	}
	for name, e := range map[string]experimentalsys.Errno{
		"Mkdir":   ro.Mkdir("d", 0o755),
		"Unlink":  ro.Unlink("data.txt"),
		"Rename":  ro.Rename("data.txt", "x"),
		"Symlink": ro.Symlink("data.txt", "l"),
		"Chmod":   ro.Chmod("data.txt", 0o777),
	} {
		if e != experimentalsys.EROFS {
			t.Errorf("read-only %s = %v, want EROFS", name, e)
		}
	}

	rw := &rootFS{root: root}
	for _, target := range []string{"/etc/passwd", "../x", "sub/../../x"} {
		if e := rw.Symlink(target, "l"); e != experimentalsys.EPERM {
			t.Errorf("Symlink(%q) = %v, want EPERM", target, e)
		}
	}
	if e := rw.Symlink("../data.txt", "sub/ok"); e != 0 {
		t.Errorf("Symlink to a file inside = %v, want success", e)
	}
	if e := rw.Rename("data.txt", "../moved"); e == 0 {
		t.Errorf("Rename out of the workspace succeeded")
	}
}

func TestWasmRawPathOpenEscapes(t *testing.T) {
	w := testRunner(t)
	ws, _ := jailWorkspace(t)
	step := pluginStep(t, "rawopen", `{"paths":["../../etc/passwd","/etc/passwd","sub/../../x","out-file","out-dir/secret","up-link","data.txt"]}`)
	step.Dir = ws
	step.Plugin.Workspace = WorkspaceReadOnly
	var log syncBuffer
	if res, err := w.Run(context.Background(), step, &log); err != nil || res.ExitStatus != 0 {
		t.Fatalf("got %+v, %v; log:\n%s", res, err, log.String())
	}
	for _, line := range strings.Split(strings.TrimSpace(log.String()), "\n") {
		ok := strings.HasSuffix(line, ": errno 0")
		if want := strings.HasPrefix(line, "open data.txt:"); ok != want {
			t.Errorf("%s; want errno 0 only for data.txt", line)
		}
	}
}

func TestWasmWorkspaceNoneByDefault(t *testing.T) {
	w := testRunner(t)
	step := pluginStep(t, "capabilities", `{"path":"data.txt"}`)
	writeFiles(t, step.Dir, map[string]string{"data.txt": "data"})
	var log syncBuffer
	if _, err := w.Run(context.Background(), step, &log); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(log.String(), `read workspace: "" open /workspace/data.txt:`) {
		t.Errorf("the plugin read the workspace without the capability:\n%s", log.String())
	}
}

func TestWasmWorkspaceReadWrite(t *testing.T) {
	w := testRunner(t)
	ws, outside := jailWorkspace(t)
	step := pluginStep(t, "write", `{"paths":["new.txt","sub/new.txt","out-dir/evil","out-file"],"body":"written"}`)
	step.Dir = ws
	step.Plugin.Workspace = WorkspaceReadWrite
	var log syncBuffer
	if res, err := w.Run(context.Background(), step, &log); err != nil || res.ExitStatus != 0 {
		t.Fatalf("got %+v, %v; log:\n%s", res, err, log.String())
	}
	for _, want := range []string{"write new.txt: <nil>", "write sub/new.txt: <nil>", "symlink out: true", "symlink up: true"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}
	for _, p := range []string{"new.txt", "sub/new.txt"} {
		if b, err := os.ReadFile(filepath.Join(ws, p)); err != nil || string(b) != "written" {
			t.Errorf("%s = %q, %v; want written", p, b, err)
		}
	}
	if strings.Contains(log.String(), "write out-dir/evil: <nil>") || strings.Contains(log.String(), "write out-file: <nil>") {
		t.Errorf("a write through a link out of the workspace succeeded:\n%s", log.String())
	}
	if b, _ := os.ReadFile(filepath.Join(outside, "secret")); string(b) != "agent secret" {
		t.Errorf("the file outside the workspace changed: %q", b)
	}
	if _, err := os.Stat(filepath.Join(outside, "evil")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("a file was created outside the workspace: %v", err)
	}
	for _, l := range []string{"link-out", "link-up"} {
		if _, err := os.Lstat(filepath.Join(ws, l)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("the plugin left a symbolic link %s leading out: %v", l, err)
		}
	}
}

// A link swapped between a file inside and one outside while the plugin
// reads it: os.Root resolves each component as it opens it, so the plugin
// sees the inside file or an error, never the outside one.
func TestWasmSymlinkSwappedDuringRun(t *testing.T) {
	w := testRunner(t)
	ws, outside := jailWorkspace(t)
	mustSymlink(t, "data.txt", filepath.Join(ws, "swap"))
	stop := make(chan struct{})
	var swaps atomic.Int64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		targets := []string{filepath.Join(outside, "secret"), "data.txt"}
		tmp := filepath.Join(ws, "swap.tmp")
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			os.Remove(tmp)
			if err := os.Symlink(targets[i%2], tmp); err != nil {
				continue
			}
			if os.Rename(tmp, filepath.Join(ws, "swap")) == nil {
				swaps.Add(1)
			}
		}
	}()
	step := pluginStep(t, "readloop", `{"path":"swap","times":3000}`)
	step.Dir = ws
	step.Plugin.Workspace = WorkspaceReadOnly
	var log syncBuffer
	res, err := w.Run(context.Background(), step, &log)
	close(stop)
	wg.Wait()
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("got %+v, %v; log:\n%s", res, err, log.String())
	}
	if strings.Contains(log.String(), "agent secret") {
		t.Errorf("the plugin read the file outside through the swapped link:\n%s", log.String())
	}
	if !strings.Contains(log.String(), `"data"`) || swaps.Load() < 10 {
		t.Errorf("the race did not happen (%d swaps):\n%s", swaps.Load(), log.String())
	}
}

func TestWasmTimeoutStopsEveryCall(t *testing.T) {
	w := testRunner(t)
	for i := range 3 {
		step := pluginStep(t, "loop", "")
		if i == 1 {
			step.Plugin.TimeoutMillis = 300 // the step's own cap
		} else {
			step.Timeout = 300 * time.Millisecond
		}
		start := time.Now()
		res, err := w.Run(context.Background(), step, io.Discard)
		if err != nil || res.ExitStatus != -1 || res.Reason != ReasonTimedOut {
			t.Fatalf("call %d: got %+v, %v; want reason %q", i+1, res, err, ReasonTimedOut)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("call %d took %v for a 300ms timeout", i+1, d)
		}
	}
	if res, err := w.Run(context.Background(), pluginStep(t, "run", `{"status":0}`), io.Discard); err != nil || res != (Result{}) {
		t.Errorf("a normal call after three timeouts: %+v, %v", res, err)
	}
}

func TestWasmLimits(t *testing.T) {
	w := testRunner(t)
	w.MaxTimeout = time.Minute
	tests := []struct {
		name    string
		plugin  wire.Plugin
		config  string
		wantErr string
		want    int
	}{
		{"memory over the agent's cap", wire.Plugin{MemoryBytes: 64 << 20}, `{"mib":1}`, "asks for 64 MiB of memory, more than this agent's maximum of 32 MiB", 0},
		{"timeout over the agent's cap", wire.Plugin{TimeoutMillis: 120_000}, `{"mib":1}`, "asks for a timeout of 2m0s, more than this agent's maximum of 1m0s", 0},
		{"a lower memory cap holds", wire.Plugin{MemoryBytes: 16 << 20}, `{"mib":24}`, "", -1},
		{"under the cap", wire.Plugin{MemoryBytes: 16 << 20}, `{"mib":1}`, "", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step := pluginStep(t, "alloc", tt.config)
			p := tt.plugin
			p.Module, p.Function, p.Config = "testplugin.wasm", "alloc", []byte(tt.config)
			step.Plugin = &p
			var log syncBuffer
			res, err := w.Run(context.Background(), step, &log)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("got %+v, %v; want an error containing %q", res, err, tt.wantErr)
				}
				return
			}
			if err != nil || res.ExitStatus != tt.want {
				t.Errorf("got %+v, %v; want exit %d; log:\n%s", res, err, tt.want, log.String())
			}
		})
	}
}

func TestWasmNotWasm(t *testing.T) {
	w := testRunner(t)
	ws := t.TempDir()
	content := "#!/bin/sh\necho hi\n"
	writeFiles(t, ws, map[string]string{"tools/p.wasm": content})
	sum := sha256.Sum256([]byte(content))
	step := Step{Dir: ws, Plugin: &wire.Plugin{Module: "tools/p.wasm", SHA256: hex.EncodeToString(sum[:])}}
	res, err := w.Run(context.Background(), step, io.Discard)
	if !errors.Is(err, ErrModuleRefused) || !strings.Contains(err.Error(), `not a WebAssembly module: it starts with "#!/bin/sh\necho h"`) {
		t.Errorf("got %+v, %v; want a refusal saying it is not WebAssembly", res, err)
	}
	if n := w.compiles.Load(); n != 0 {
		t.Errorf("%d modules compiled, want 0", n)
	}
}

func TestWasmSecrets(t *testing.T) {
	w := testRunner(t)
	step := pluginStep(t, "secret", `{"name":"TOKEN","body":"s3cr3t"}`)
	step.Secrets = map[string]string{"TOKEN": "s3cr3t"}
	var log syncBuffer
	if res, err := w.Run(context.Background(), step, &log); err != nil || res.ExitStatus != 0 || !strings.Contains(log.String(), "secret TOKEN: 6 bytes, matches true") {
		t.Errorf("declared secret: %+v, %v; log:\n%s", res, err, log.String())
	}
	step = pluginStep(t, "secret", `{"name":"OTHER"}`)
	step.Secrets = map[string]string{"TOKEN": "s3cr3t"}
	res, err := w.Run(context.Background(), step, io.Discard)
	if err != nil || res.ExitStatus != -1 || res.Reason != `plugin asked for secret "OTHER", which the step does not declare` {
		t.Errorf("undeclared secret: %+v, %v", res, err)
	}
}

// tlsServer is an https server on 127.0.0.1 whose certificate is valid for
// example.com; requests counts what reached it.
type tlsServer struct {
	*httptest.Server
	requests atomic.Int64
	roots    *x509.CertPool
}

func newTLSServer(t *testing.T, h http.Handler) *tlsServer {
	t.Helper()
	s := &tlsServer{}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		s.requests.Add(1)
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(s.Close)
	s.roots = x509.NewCertPool()
	s.roots.AddCert(s.Certificate())
	return s
}

func (s *tlsServer) port() string {
	return s.URL[strings.LastIndexByte(s.URL, ':')+1:]
}

// testPolicy reaches the test server: example.com resolves to 127.0.0.1,
// and loopback is allowed on top of the production policy. The production
// policy still decides every other address.
func (s *tlsServer) testPolicy() netPolicy {
	return netPolicy{
		allowAddr: func(ip netip.Addr) bool { return ip.IsLoopback() || publicAddr(ip) },
		lookup: func(ctx context.Context, host string) ([]netip.Addr, error) {
			if host == "example.com" {
				return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
			}
			return nil, fmt.Errorf("lookup %s: no such host (test resolver)", host)
		},
		roots: s.roots,
	}
}

func TestWasmHTTP(t *testing.T) {
	srv := newTLSServer(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/ok":
			io.WriteString(rw, "hello")
		case "/echo":
			b, _ := io.ReadAll(r.Body)
			fmt.Fprintf(rw, "%s %s", r.Method, b)
		case "/redirect":
			http.Redirect(rw, r, "http://169.254.169.254/latest/meta-data/", http.StatusFound)
		case "/big": // 60 MB, chunked: no Content-Length to refuse early
			chunk := make([]byte, 1<<20)
			for range 60 {
				if _, err := rw.Write(chunk); err != nil {
					return
				}
				rw.(http.Flusher).Flush()
			}
		}
	}))
	base := "https://example.com:" + srv.port()
	w := testRunner(t)
	w.net = srv.testPolicy()
	w.MaxHTTPResponseBytes = 50 << 20

	tests := []struct {
		name       string
		config     string
		allow      []string
		wantLog    string // "" when the plugin is stopped
		wantReason string
		wantHits   int64
	}{
		{"get", `{"url":"` + base + `/ok"}`, []string{"example.com"}, `status 200 location "" body "hello"`, "", 1},
		{"post", `{"url":"` + base + `/echo","method":"POST","body":"ping"}`, []string{"EXAMPLE.com"}, `status 200 location "" body "POST ping"`, "", 1},
		{"redirect is not followed", `{"url":"` + base + `/redirect"}`, []string{"example.com"}, `status 302 location "http://169.254.169.254/latest/meta-data/"`, "", 1},
		{"host not on the list", `{"url":"` + base + `/ok"}`, []string{"api.example.org"}, "", `host "example.com" is not in the step's allow_hosts [api.example.org]`, 0},
		{"no host allowed", `{"url":"` + base + `/ok"}`, nil, "", `allow_hosts (empty: the step allows no host)`, 0},
		{"metadata address", `{"url":"https://169.254.169.254/latest/meta-data/"}`, []string{"169.254.169.254"}, "", "169.254.169.254 is not a public address", 0},
		{"plain http", `{"url":"http://example.com:` + srv.port() + `/ok"}`, []string{"example.com"}, "", "only https URLs are allowed", 0},
		{"response over the cap", `{"url":"` + base + `/big"}`, []string{"example.com"}, "", "the response body is larger than the cap of 52428800 bytes (50 MiB)", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.requests.Load()
			step := pluginStep(t, "fetch", tt.config)
			step.Plugin.AllowHosts = tt.allow
			var log syncBuffer
			res, err := w.Run(context.Background(), step, &log)
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantLog != "" {
				if res.ExitStatus != 0 || !strings.Contains(log.String(), tt.wantLog) {
					t.Errorf("got %+v; log:\n%s\nwant exit 0 and %q", res, log.String(), tt.wantLog)
				}
			} else if res.ExitStatus != -1 || !strings.Contains(res.Reason, tt.wantReason) {
				t.Errorf("got %+v; want exit -1 and a reason containing %q; log:\n%s", res, tt.wantReason, log.String())
			}
			if hits := srv.requests.Load() - before; hits != tt.wantHits {
				t.Errorf("the server got %d requests, want %d", hits, tt.wantHits)
			}
		})
	}
}

// The production address policy, against a real server on loopback: a
// name resolving to 127.0.0.1, and the address itself, are refused at dial
// time even though the step allows the host.
func TestWasmHTTPRefusesLoopback(t *testing.T) {
	srv := newTLSServer(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { io.WriteString(rw, "reached") }))
	w := testRunner(t)
	w.net = netPolicy{roots: srv.roots} // the system resolver, the real policy
	for _, host := range []string{"localhost", "127.0.0.1"} {
		t.Run(host, func(t *testing.T) {
			step := pluginStep(t, "fetch", `{"url":"https://`+host+`:`+srv.port()+`/"}`)
			step.Plugin.AllowHosts = []string{host}
			res, err := w.Run(context.Background(), step, io.Discard)
			if err != nil || res.ExitStatus != -1 || !strings.Contains(res.Reason, "not a public address") {
				t.Errorf("got %+v, %v; want the address refused", res, err)
			}
		})
	}
	if n := srv.requests.Load(); n != 0 {
		t.Errorf("the loopback server got %d requests", n)
	}
}

func TestPublicAddr(t *testing.T) {
	for addr, want := range map[string]bool{
		"8.8.8.8": true, "1.1.1.1": true, "2606:4700:4700::1111": true,
		"127.0.0.1": false, "127.1.2.3": false, "::1": false, "0.0.0.0": false, "::": false,
		"10.1.2.3": false, "172.16.0.1": false, "192.168.1.1": false, "fd00::1": false,
		"169.254.169.254": false, "fe80::1": false, "100.64.0.1": false,
		"224.0.0.1": false, "ff02::1": false, "255.255.255.255": false,
		"::ffff:127.0.0.1": false, "::ffff:169.254.169.254": false, "64:ff9b::a9fe:a9fe": false,
	} {
		if got := publicAddr(netip.MustParseAddr(addr)); got != want {
			t.Errorf("publicAddr(%s) = %v, want %v", addr, got, want)
		}
	}
}

func TestWasmHTTPSModule(t *testing.T) {
	mod, err := os.ReadFile(wasmModule(t, "./testdata/testplugin"))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(mod)
	pin := hex.EncodeToString(sum[:])
	srv := newTLSServer(t, http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/p.wasm":
			rw.Write(mod)
		case "/moved.wasm":
			http.Redirect(rw, r, "/p.wasm", http.StatusFound)
		case "/elsewhere.wasm":
			http.Redirect(rw, r, "https://other.example.org/p.wasm", http.StatusFound)
		default:
			http.NotFound(rw, r)
		}
	}))
	base := "https://example.com:" + srv.port()
	cacheDir := t.TempDir()
	newRunner := func() *Wasm {
		w := &Wasm{CacheDir: cacheDir}
		w.net = srv.testPolicy()
		t.Cleanup(func() { w.Close(context.Background()) })
		return w
	}
	run := func(w *Wasm, module, pin string) (Result, error) {
		return w.Run(context.Background(), Step{Plugin: &wire.Plugin{Module: module, SHA256: pin, Function: "noop"}}, io.Discard)
	}

	w := newRunner()
	for _, m := range []string{"/p.wasm", "/moved.wasm"} {
		if res, err := run(w, base+m, pin); err != nil || res.ExitStatus != 0 {
			t.Fatalf("%s: got %+v, %v", m, res, err)
		}
	}
	if n := srv.requests.Load(); n != 1 {
		t.Errorf("%d downloads for one module run twice, want 1", n)
	}
	if _, err := os.Stat(filepath.Join(cacheDir, "modules", pin+".wasm")); err != nil {
		t.Errorf("the module is not cached by hash: %v", err)
	}
	bad := strings.Repeat("0", 64)
	if res, err := run(w, base+"/p.wasm", bad); !errors.Is(err, ErrModuleRefused) || !strings.Contains(err.Error(), "sha256 is "+pin) {
		t.Errorf("wrong pin: %+v, %v", res, err)
	}
	if res, err := run(w, base+"/elsewhere.wasm", bad); err == nil || !strings.Contains(err.Error(), "redirect to https://other.example.org/p.wasm leaves example.com") {
		t.Errorf("redirect to another host: %+v, %v", res, err)
	}

	// After a restart, with the server gone, the cache serves it.
	srv.Close()
	if res, err := run(newRunner(), base+"/p.wasm", pin); err != nil || res.ExitStatus != 0 {
		t.Errorf("from the cache: %+v, %v", res, err)
	}
}

// tinyModule is the smallest plugin: it exports run, which returns 0.
// It has no Go runtime to start, so many cycles through the runner's own
// create → call → close path stay fast.
var tinyModule = []byte{
	0x00, 'a', 's', 'm', 0x01, 0x00, 0x00, 0x00,
	0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f, // type section: () -> i32
	0x03, 0x02, 0x01, 0x00, // function section: one function of type 0
	0x07, 0x07, 0x01, 0x03, 'r', 'u', 'n', 0x00, 0x00, // export "run"
	0x0a, 0x06, 0x01, 0x04, 0x00, 0x41, 0x00, 0x0b, // code: i32.const 0
}

// Create, call and close plugin instances many times: the heap after GC
// must not keep growing. 10 000 cycles of the tiny module test the
// runner's path; a Go plugin, whose runtime takes a few milliseconds to
// start in each instance, runs fewer.
func TestWasmCreateCallCloseCycles(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "tiny.wasm"), tinyModule, 0o644); err != nil {
		t.Fatal(err)
	}
	goCycles := 1_000
	if testing.Short() {
		goCycles = 200
	}
	for _, tt := range []struct {
		module, function string
		pluginPath       string
		cycles           int
	}{
		{"tiny.wasm", "run", dir, 10_000},
		{"testplugin.wasm", "noop", filepath.Dir(wasmModule(t, "./testdata/testplugin")), goCycles},
	} {
		t.Run(tt.module, func(t *testing.T) {
			w := &Wasm{PluginPath: []string{tt.pluginPath}, CacheDir: sharedCacheDir(t)}
			defer w.Close(context.Background())
			step := Step{Dir: t.TempDir(), Plugin: &wire.Plugin{Module: tt.module, Function: tt.function}}
			checkCycles(t, w, step, tt.cycles)
		})
	}
}

func checkCycles(t *testing.T, w *Wasm, step Step, total int) {
	ctx := context.Background()
	heap := func() uint64 {
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	var atFirst uint64
	first := total / 10
	start := time.Now()
	for i := 1; i <= total; i++ {
		res, err := w.Run(ctx, step, io.Discard)
		if err != nil || res.ExitStatus != 0 {
			t.Fatalf("cycle %d: %+v, %v", i, res, err)
		}
		if i == first {
			atFirst = heap()
		}
	}
	atLast := heap()
	t.Logf("%d cycles in %v; heap %d KiB after %d, %d KiB after %d", total, time.Since(start), atFirst>>10, first, atLast>>10, total)
	if atLast > atFirst+4<<20 {
		t.Errorf("heap grew from %d KiB after %d cycles to %d KiB after %d", atFirst>>10, first, atLast>>10, total)
	}
}

func TestRunPluginFile(t *testing.T) {
	mod := wasmModule(t, "./testdata/testplugin")
	b, err := os.ReadFile(mod)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	ws := t.TempDir()
	writeFiles(t, ws, map[string]string{"data.txt": "data"})

	var log syncBuffer
	res, err := RunPluginFile(context.Background(), PluginFileOptions{
		File: mod, SHA256: hex.EncodeToString(sum[:]), Function: "capabilities",
		Config: []string{"path=data.txt", "unused=1"}, Workspace: ws, CacheDir: sharedCacheDir(t),
	}, &log)
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("got %+v, %v", res, err)
	}
	for _, want := range []string{`read workspace: "data" <nil>`, "write workspace: true"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q:\n%s", want, log.String())
		}
	}

	res, err = RunPluginFile(context.Background(), PluginFileOptions{File: mod, Function: "run", Config: []string{"status=3"}, ConfigJSON: []byte(`{"status":3}`)}, io.Discard)
	if err != nil || res.ExitStatus != 3 {
		t.Errorf("exit status: got %+v, %v; want 3", res, err)
	}
	res, err = RunPluginFile(context.Background(), PluginFileOptions{File: mod, Function: "loop", Timeout: 200 * time.Millisecond}, io.Discard)
	if err != nil || res.Reason != ReasonTimedOut {
		t.Errorf("timeout: got %+v, %v", res, err)
	}
	for _, tt := range []struct {
		opts    PluginFileOptions
		wantErr string
	}{
		{PluginFileOptions{File: mod, SHA256: strings.Repeat("0", 64)}, "--sha256 pins 0000"},
		{PluginFileOptions{File: mod, Config: []string{"novalue"}}, `--config "novalue": want KEY=VALUE`},
		{PluginFileOptions{File: mod, Workspace: filepath.Join(ws, "data.txt")}, "not a directory"},
		{PluginFileOptions{File: filepath.Join(ws, "data.txt")}, "not a WebAssembly module"},
	} {
		if _, err := RunPluginFile(context.Background(), tt.opts, io.Discard); err == nil || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("%+v: got %v, want an error containing %q", tt.opts, err, tt.wantErr)
		}
	}
}
