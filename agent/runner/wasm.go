package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"

	"github.com/airlockci/airlock/internal/wire"
)

// DefaultMaxMemoryPages caps a plugin's linear memory when
// Wasm.MaxMemoryPages is zero: 512 pages of 64 KiB, 32 MiB.
const DefaultMaxMemoryPages = 512

// DefaultFunction is the export a plugin step calls when Plugin.Function is
// empty.
const DefaultFunction = "run"

// WorkspaceMount is where a plugin sees the step's workspace, when the step
// grants it.
const WorkspaceMount = "/workspace"

// Values of wire.Plugin.Workspace.
const (
	WorkspaceReadOnly  = "read-only"
	WorkspaceReadWrite = "read-write"
)

// maxModuleBytes bounds how much of a module file or download is read.
const maxModuleBytes = 256 << 20

// ErrModuleRefused is wrapped by the errors for a plugin module that was
// found but may not run: a path leaving the workspace, an unsupported URL,
// a workspace or URL module without a pin, content that does not match its
// pinned SHA-256, or content that is not WebAssembly.
var ErrModuleRefused = errors.New("plugin module refused")

// Wasm runs a step's Plugin, an Extism plugin, on wazero. See
// plugins/README.md for the contract a plugin implements.
//
// A plugin gets no capability its step does not grant (wire.Plugin):
//   - the workspace, read-only or read-write, at /workspace, through a
//     file system of Airlock's own on os.Root (rootFS) that `..`, absolute
//     paths and symbolic links cannot leave;
//   - https requests to the step's allow_hosts only, through Airlock's
//     implementation of Extism's http_request: no redirect followed, only
//     public addresses dialled (checked after DNS, at connect), response
//     body capped at MaxHTTPResponseBytes;
//   - the step's secrets, by name, through airlock_secret.
//
// Always: the wall clock, a sleep, random bytes, and stdout and stderr
// into the step's log. Never: environment variables (Step.Env reaches the
// plugin in its input), other files, sockets. Memory is capped at
// MaxMemoryPages (or the step's lower cap), and the step's timeout or a
// cancellation stops the guest even in the middle of a loop, on every run.
//
// Modules come from PluginPath (the operator's: a pin is optional), the
// workspace or an https URL (the pipeline author's: a sha256 pin is
// required, and checked before anything is compiled). Downloads are kept in
// CacheDir by hash. Compiled modules are kept in memory, keyed by SHA-256
// and memory cap, for the life of the Wasm, and wazero's machine code on
// disk in CacheDir, so a module is compiled once however many steps run it.
//
// Every step runs in a fresh instance, closed when the step ends. To start
// warm steps quickly, the instances are made ahead of need: after a module
// runs, SparesPerModule more are made and initialised in the background,
// each attached to the workspace and log of the step that claims it (see
// instancePool). A reactor plugin's runtime and package initialisers
// therefore run before its step is known, with no workspace (/workspace is
// an empty directory then), no secrets and no hosts; what they print goes
// to the claiming step's log.
//
// Set the fields before the first Run and do not change them after; a Wasm
// may run several steps at once. Close releases it once no Run is in
// progress.
type Wasm struct {
	// PluginPath lists the directories where a Module that is a bare file
	// name is looked up, in order.
	PluginPath []string
	// CacheDir holds wazero's compilation cache and downloaded modules;
	// empty keeps compiled code in memory and downloads nothing to disk.
	CacheDir string
	// MaxMemoryPages caps each plugin's memory in 64 KiB pages; 0 means
	// DefaultMaxMemoryPages. A step may ask for less, not more.
	MaxMemoryPages uint32
	// MaxTimeout, if set, is the longest a step may ask its plugin to run
	// (wire.Plugin.TimeoutMillis).
	MaxTimeout time.Duration
	// MaxHTTPResponseBytes caps one response body a plugin receives; 0
	// means DefaultMaxHTTPResponseBytes.
	MaxHTTPResponseBytes int64
	// HTTPTimeout bounds one plugin HTTP request; 0 means
	// DefaultHTTPTimeout.
	HTTPTimeout time.Duration
	// SparesPerModule is how many fresh instances of each recently used
	// module are made ahead of its next step (see instancePool); 0 means
	// DefaultSparesPerModule, a negative number none.
	SparesPerModule int

	// net is the production network policy unless a test changes it.
	net netPolicy

	initOnce sync.Once
	initErr  error
	cache    wazero.CompilationCache
	http     *pluginHTTP
	download *http.Client

	mu       sync.Mutex
	compiled map[string]*compiledPlugin // by SHA-256 and memory cap
	fileSums map[fileIdentity]string    // hex SHA-256 of plugin path files
	compiles atomic.Int64               // modules handed to the compiler, for tests

	pool *instancePool // set by init
}

var _ Runner = (*Wasm)(nil)

type compiledPlugin struct {
	ready  chan struct{} // closed when plugin, initExport and err are set
	plugin *extism.CompiledPlugin
	// initExport says the module's _initialize was renamed initExport:
	// Airlock runs it when it makes an instance, ahead of the step.
	initExport bool
	err        error
}

// setLogLevel turns on Extism's log host functions, which are off until
// a process-wide level is set. The level is global to the Extism SDK; each
// plugin instance still has its own log writer.
var setLogLevel sync.Once

func (w *Wasm) init() error {
	w.initOnce.Do(func() {
		setLogLevel.Do(func() { extism.SetLogLevel(extism.LogLevelInfo) })
		w.compiled = make(map[string]*compiledPlugin)
		spares := w.SparesPerModule
		if spares == 0 {
			spares = DefaultSparesPerModule
		}
		w.pool = newInstancePool(spares, func(ctx context.Context, c *compiledPlugin) (*pluginInstance, error) {
			return w.instantiate(ctx, c, nil)
		})
		w.fileSums = make(map[fileIdentity]string)
		transport := w.net.transport()
		maxBytes := w.MaxHTTPResponseBytes
		if maxBytes <= 0 {
			maxBytes = DefaultMaxHTTPResponseBytes
		}
		timeout := w.HTTPTimeout
		if timeout <= 0 {
			timeout = DefaultHTTPTimeout
		}
		w.http = &pluginHTTP{
			client: &http.Client{
				Transport: transport,
				// The plugin sees the redirect and decides; following it
				// here would take the request to a host nobody checked.
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
			},
			maxBytes: maxBytes,
			timeout:  timeout,
		}
		w.download = &http.Client{
			Transport: transport,
			Timeout:   5 * time.Minute,
			CheckRedirect: func(req *http.Request, via []*http.Request) error {
				if req.URL.Scheme != "https" || !strings.EqualFold(req.URL.Host, via[0].URL.Host) {
					return fmt.Errorf("redirect to %s leaves %s", redactURL(req.URL), via[0].URL.Host)
				}
				if len(via) >= 5 {
					return errors.New("more than 5 redirects")
				}
				return nil
			},
		}
		if w.CacheDir == "" {
			w.cache = wazero.NewCompilationCache()
			return
		}
		w.cache, w.initErr = wazero.NewCompilationCacheWithDir(w.CacheDir)
		if w.initErr != nil {
			w.initErr = fmt.Errorf("wasm runner: compilation cache in %q: %w", w.CacheDir, w.initErr)
		}
	})
	return w.initErr
}

// Close releases the spare instances, every compiled module and the
// compilation cache (the files in CacheDir stay); it returns once the
// background work making spares has stopped. Runs must have returned, and
// w is not used again.
func (w *Wasm) Close(ctx context.Context) error {
	w.pool.close()
	w.mu.Lock()
	compiled := w.compiled
	w.compiled = map[string]*compiledPlugin{}
	w.mu.Unlock()
	var errs []error
	for _, c := range compiled {
		<-c.ready
		if c.plugin != nil {
			errs = append(errs, c.plugin.Close(ctx))
		}
	}
	if w.cache != nil {
		errs = append(errs, w.cache.Close(ctx))
	}
	if w.http != nil {
		w.http.client.CloseIdleConnections()
	}
	return errors.Join(errs...)
}

// limits are a step's effective caps.
type limits struct {
	pages   uint32
	timeout time.Duration // 0 for none
}

// limits combines the agent's maximums with what the step asks for.
func (w *Wasm) limits(step Step) (limits, error) {
	p := step.Plugin
	l := limits{pages: w.maxPages(), timeout: step.Timeout}
	if p.MemoryBytes < 0 || p.TimeoutMillis < 0 {
		return l, fmt.Errorf("plugin %s: negative memory or timeout", p.Module)
	}
	if p.MemoryBytes > 0 {
		pages := (p.MemoryBytes + 65535) / 65536
		if pages > int64(l.pages) {
			return l, fmt.Errorf("plugin %s: the step asks for %s of memory, more than this agent's maximum of %s", p.Module, mib(p.MemoryBytes), mib(int64(l.pages)*65536))
		}
		l.pages = uint32(pages)
	}
	if p.TimeoutMillis > 0 {
		d := time.Duration(p.TimeoutMillis) * time.Millisecond
		if w.MaxTimeout > 0 && d > w.MaxTimeout {
			return l, fmt.Errorf("plugin %s: the step asks for a timeout of %v, more than this agent's maximum of %v", p.Module, d, w.MaxTimeout)
		}
		if l.timeout == 0 || d < l.timeout {
			l.timeout = d
		}
	}
	if w.MaxTimeout > 0 && (l.timeout == 0 || l.timeout > w.MaxTimeout) {
		l.timeout = w.MaxTimeout
	}
	return l, nil
}

// Run implements Runner.
func (w *Wasm) Run(ctx context.Context, step Step, log io.Writer) (Result, error) {
	if step.Plugin == nil {
		return fail(errors.New("wasm runner: step has no plugin"))
	}
	if err := w.init(); err != nil {
		return fail(err)
	}
	p := step.Plugin
	if _, err := pluginInput(p.Config, step.Env); err != nil {
		return fail(fmt.Errorf("plugin %s: %w", p.Module, err))
	}
	lim, err := w.limits(step)
	if err != nil {
		return fail(err)
	}
	sum, load, err := w.resolveModule(ctx, p, step.Dir)
	if err != nil {
		return fail(err)
	}
	return w.run(ctx, step, lim, sum, load, log)
}

// run compiles (or finds) the module whose hex SHA-256 is sum and runs the
// step's function in a fresh instance.
func (w *Wasm) run(ctx context.Context, step Step, lim limits, sum string, load func() ([]byte, error), log io.Writer) (Result, error) {
	p := step.Plugin
	input, err := pluginInput(p.Config, step.Env)
	if err != nil {
		return fail(fmt.Errorf("plugin %s: %w", p.Module, err))
	}
	compiled, err := w.compile(ctx, sum, lim.pages, load)
	if ctx.Err() != nil {
		return Result{ExitStatus: -1, Reason: ReasonCancelled}, nil
	}
	if err != nil {
		if errors.Is(err, ErrModuleRefused) {
			return fail(fmt.Errorf("plugin %s: %w", p.Module, err))
		}
		return fail(fmt.Errorf("plugin %s: compile: %w", p.Module, err))
	}

	runCtx := ctx
	if lim.timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, lim.timeout)
		defer cancel()
	}
	stopped := func() (Result, bool) { return stoppedEarly(ctx, runCtx) }

	fn := p.Function
	if fn == "" {
		fn = DefaultFunction
	}
	if fn == initExport {
		return fail(fmt.Errorf("plugin %s: %q is not a plugin function", p.Module, fn))
	}
	var root *rootFS
	switch p.Workspace {
	case "":
	case WorkspaceReadOnly, WorkspaceReadWrite:
		if step.Dir == "" {
			return fail(fmt.Errorf("plugin %s: the step grants the workspace, but there is none", p.Module))
		}
		r, err := os.OpenRoot(step.Dir)
		if err != nil {
			return fail(fmt.Errorf("plugin %s: open workspace: %w", p.Module, err))
		}
		defer r.Close()
		root = &rootFS{root: r, readOnly: p.Workspace == WorkspaceReadOnly}
	default:
		return fail(fmt.Errorf("plugin %s: workspace access %q; want %q, %q or none", p.Module, p.Workspace, WorkspaceReadOnly, WorkspaceReadWrite))
	}

	// A spare made ahead of this step, or else one made now; either way
	// an instance no step has run in, closed when this one ends.
	instance := w.pool.claim(compileKey(sum, lim.pages), compiled)
	if instance == nil {
		instance, err = w.instantiate(runCtx, compiled, log)
		if err != nil {
			if r, ok := stopped(); ok {
				return r, nil
			}
			if errors.Is(err, errPluginInit) {
				writeLogLine(log, extism.LogLevelError, err.Error())
				return Result{ExitStatus: -1, Reason: fmt.Sprintf("plugin %s: %v", p.Module, err)}, nil
			}
			return fail(fmt.Errorf("plugin %s: instantiate: %w", p.Module, err))
		}
	}
	// Deferred after the workspace's Close, so it runs first: the guest's
	// open files go before the root they were opened in.
	defer instance.close()
	instance.attach(root, log)

	if !instance.plugin.FunctionExists(fn) {
		return fail(fmt.Errorf("plugin %s does not export function %q", p.Module, fn))
	}

	st := &runState{allowHosts: map[string]bool{}, secrets: step.Secrets, http: w.http}
	for _, h := range p.AllowHosts {
		st.allowHosts[strings.TrimSuffix(strings.ToLower(h), ".")] = true
	}
	rc, output, err := instance.plugin.CallWithContext(context.WithValue(runCtx, runStateKey{}, st), fn, input)
	if len(output) > 0 {
		log.Write(output)
		if output[len(output)-1] != '\n' {
			io.WriteString(log, "\n")
		}
	}
	if r, ok := stopped(); ok {
		return r, nil
	}
	if st.hostErr != nil {
		// A host function refused or failed, and stopped the plugin.
		writeLogLine(log, extism.LogLevelError, st.hostErr.Error())
		return Result{ExitStatus: -1, Reason: st.hostErr.Error()}, nil
	}
	if err == nil {
		return Result{ExitStatus: int(int32(rc))}, nil
	}
	// pdk.SetError: the function returned, with an error message for the
	// user; its return code still stands.
	if guestErr := instance.plugin.GetErrorWithContext(context.Background()); guestErr != "" && guestErr == err.Error() {
		writeLogLine(log, extism.LogLevelError, guestErr)
		return Result{ExitStatus: int(int32(rc))}, nil
	}
	// The guest trapped or called exit: it never returned. A Go plugin
	// traps (unreachable) after printing a panic or a fatal error such as
	// running out of memory to stderr, which is in the log.
	fmt.Fprintf(log, "plugin failed (memory cap %s): %v\n", mib(int64(lim.pages)*65536), err)
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return Result{ExitStatus: -1, Reason: fmt.Sprintf("plugin exited with code %d instead of returning", exit.ExitCode())}, nil
	}
	return Result{ExitStatus: -1, Reason: "plugin crashed: " + firstLine(err.Error()) + " (its panic or fatal error, if any, is in the log)"}, nil
}

func (w *Wasm) maxPages() uint32 {
	if w.MaxMemoryPages == 0 {
		return DefaultMaxMemoryPages
	}
	return w.MaxMemoryPages
}

// compileKey names the compiled form of the module whose hex SHA-256 is
// sum, for a memory cap of pages.
func compileKey(sum string, pages uint32) string {
	return fmt.Sprintf("%s/%d", sum, pages)
}

// compile returns the compiled form of the module whose hex SHA-256 is
// sum, for a memory cap of pages, compiling it at most once however many
// Runs ask at the same time. load gives the module's bytes, checked
// against sum; it is called only when the module must be compiled.
func (w *Wasm) compile(ctx context.Context, sum string, pages uint32, load func() ([]byte, error)) (*compiledPlugin, error) {
	key := compileKey(sum, pages)
	w.mu.Lock()
	c, ok := w.compiled[key]
	if ok {
		w.mu.Unlock()
		select {
		case <-c.ready:
			return c, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c = &compiledPlugin{ready: make(chan struct{})}
	w.compiled[key] = c
	w.mu.Unlock()

	c.plugin, c.initExport, c.err = w.compileNow(ctx, pages, load)
	close(c.ready)
	if c.err != nil {
		// Let a later Run try again rather than remember the failure.
		w.mu.Lock()
		if w.compiled[key] == c {
			delete(w.compiled, key)
		}
		w.mu.Unlock()
	}
	return c, c.err
}

func (w *Wasm) compileNow(ctx context.Context, pages uint32, load func() ([]byte, error)) (*extism.CompiledPlugin, bool, error) {
	module, err := load()
	if err != nil {
		return nil, false, err
	}
	if err := checkWasm(module); err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrModuleRefused, err)
	}
	module, err = redirectImports(module, extismEnvModule, airlockHostModule, redirectedHTTP)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrModuleRefused, err)
	}
	module, initExport, err := renameInitExports(module)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", ErrModuleRefused, err)
	}
	w.compiles.Add(1)
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(w.cache).
		WithMemoryLimitPages(pages).
		WithCloseOnContextDone(true)
	compiled, err := extism.NewCompiledPlugin(ctx,
		extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: module}}},
		extism.PluginConfig{RuntimeConfig: rc, EnableWasi: true},
		hostFunctions())
	return compiled, initExport, err
}

// resolveModule finds the module a step names and returns its hex SHA-256
// and a function giving its bytes. Modules from the workspace and from
// URLs must be pinned; every pin is checked before anything is compiled.
func (w *Wasm) resolveModule(ctx context.Context, p *wire.Plugin, dir string) (string, func() ([]byte, error), error) {
	name := p.Module
	pin := strings.ToLower(p.SHA256)
	if pin != "" && !isHexSHA256(pin) {
		return "", nil, fmt.Errorf("plugin %s: %w: sha256 %q is not 64 hex digits", name, ErrModuleRefused, p.SHA256)
	}
	var module []byte
	var err error
	switch {
	case strings.HasPrefix(name, "https://"):
		if pin == "" {
			return "", nil, fmt.Errorf("plugin %s: %w: a module from a URL needs a sha256 pin", name, ErrModuleRefused)
		}
		// Downloaded only if it must be compiled, and then at most once
		// per hash into CacheDir.
		return pin, func() ([]byte, error) { return w.fetchModule(ctx, name, pin) }, nil
	case name != "" && !strings.Contains(name, "/") && !strings.Contains(name, "://"):
		sum, load, err := w.pluginPathModule(name)
		if err != nil {
			return "", nil, err
		}
		if pin != "" && pin != sum {
			return "", nil, fmt.Errorf("plugin %s: %w: sha256 is %s, the step pins %s", name, ErrModuleRefused, sum, p.SHA256)
		}
		return sum, load, nil
	default:
		module, err = loadFromWorkspace(name, dir)
		if err == nil && pin == "" {
			sum := sha256.Sum256(module)
			return "", nil, fmt.Errorf("plugin %s: %w: a module from the workspace needs a sha256 pin (this one is %x); only modules in the agent's plugin path may be unpinned", name, ErrModuleRefused, sum)
		}
	}
	if err != nil {
		return "", nil, err
	}
	sum := sha256.Sum256(module)
	got := hex.EncodeToString(sum[:])
	if pin != "" && pin != got {
		return "", nil, fmt.Errorf("plugin %s: %w: sha256 is %s, the step pins %s", name, ErrModuleRefused, got, p.SHA256)
	}
	return got, func() ([]byte, error) { return module, nil }, nil
}

func isHexSHA256(s string) bool {
	if len(s) != 64 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// fetchModule returns the module at an https URL whose SHA-256 is pin,
// from CacheDir/modules if it was downloaded before.
func (w *Wasm) fetchModule(ctx context.Context, rawURL, pin string) ([]byte, error) {
	var cached string
	if w.CacheDir != "" {
		cached = filepath.Join(w.CacheDir, "modules", pin+".wasm")
		if b, err := os.ReadFile(cached); err == nil {
			if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) == pin {
				return b, nil
			}
			os.Remove(cached) // damaged: download again
		}
	}
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("%w: %q is not a URL", ErrModuleRefused, rawURL)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrModuleRefused, err)
	}
	resp, err := w.download.Do(req)
	if err != nil {
		return nil, fmt.Errorf("download: %w", unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("download: %s answered %s", u.Host, resp.Status)
	}
	if resp.ContentLength > maxModuleBytes {
		return nil, fmt.Errorf("%w: download: %d bytes, larger than %d MiB", ErrModuleRefused, resp.ContentLength, maxModuleBytes>>20)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxModuleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("download: %w", err)
	}
	if len(b) > maxModuleBytes {
		return nil, fmt.Errorf("%w: download: larger than %d MiB", ErrModuleRefused, maxModuleBytes>>20)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != pin {
		return nil, fmt.Errorf("%w: sha256 is %s, the step pins %s", ErrModuleRefused, got, pin)
	}
	if cached != "" {
		// Written under a temporary name and renamed, so a reader never
		// sees half a module (and checks the hash anyway).
		if err := os.MkdirAll(filepath.Dir(cached), 0o755); err == nil {
			if tmp, err := os.CreateTemp(filepath.Dir(cached), pin+".*.tmp"); err == nil {
				_, werr := tmp.Write(b)
				cerr := tmp.Close()
				if werr == nil && cerr == nil {
					os.Rename(tmp.Name(), cached)
				} else {
					os.Remove(tmp.Name())
				}
			}
		}
	}
	return b, nil
}

// loadFromWorkspace reads a module at a path relative to (and inside) the
// workspace dir.
func loadFromWorkspace(name, dir string) ([]byte, error) {
	switch {
	case name == "":
		return nil, errors.New("plugin step has no module")
	case strings.Contains(name, "://"):
		return nil, fmt.Errorf("plugin %s: %w: want a file name, a path relative to the workspace, or an https URL", name, ErrModuleRefused)
	case filepath.IsAbs(name):
		return nil, fmt.Errorf("plugin %s: %w: an absolute path; want a path relative to the workspace", name, ErrModuleRefused)
	}
	clean := filepath.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return nil, fmt.Errorf("plugin %s: %w: the path leaves the workspace", name, ErrModuleRefused)
	}
	if dir == "" {
		return nil, fmt.Errorf("plugin %s: not found: the step has no workspace", name)
	}
	// os.Root also refuses symbolic links that lead out of the workspace.
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: open workspace: %w", name, err)
	}
	defer root.Close()
	f, err := root.Open(clean)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("plugin %s: not found in the workspace", name)
		}
		return nil, fmt.Errorf("plugin %s: %w: %w", name, ErrModuleRefused, err)
	}
	defer f.Close()
	return readModule(name, f)
}

// pluginPathModule finds a module in the plugin path and returns its hex
// SHA-256 and a function giving its bytes. The operator's plugin files
// change rarely, so a file's hash is remembered while its identity (inode,
// size, modification time) stays the same: a warm step neither reads nor
// hashes several megabytes again.
func (w *Wasm) pluginPathModule(name string) (string, func() ([]byte, error), error) {
	if name == "." || name == ".." {
		return "", nil, fmt.Errorf("plugin %s: %w: not a file name", name, ErrModuleRefused)
	}
	for _, dir := range w.PluginPath {
		path := filepath.Join(dir, name)
		info, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return "", nil, fmt.Errorf("plugin %s: %w", name, err)
		}
		key := fileIdentity{path: path, ino: sys.NewStat_t(info).Ino, size: info.Size(), mtime: info.ModTime().UnixNano()}
		read := func() ([]byte, string, error) {
			f, err := os.Open(path)
			if err != nil {
				return nil, "", fmt.Errorf("plugin %s: %w", name, err)
			}
			defer f.Close()
			b, err := readModule(name, f)
			if err != nil {
				return nil, "", err
			}
			sum := sha256.Sum256(b)
			return b, hex.EncodeToString(sum[:]), nil
		}
		w.mu.Lock()
		sum, known := w.fileSums[key]
		w.mu.Unlock()
		if !known {
			b, got, err := read()
			if err != nil {
				return "", nil, err
			}
			w.mu.Lock()
			w.fileSums[key] = got
			w.mu.Unlock()
			return got, func() ([]byte, error) { return b, nil }, nil
		}
		return sum, func() ([]byte, error) {
			b, got, err := read()
			if err == nil && got != sum {
				err = fmt.Errorf("%w: %s changed while it was loaded (sha256 %s, was %s)", ErrModuleRefused, path, got, sum)
			}
			return b, err
		}, nil
	}
	return "", nil, fmt.Errorf("plugin %s: not found in the plugin path %q", name, w.PluginPath)
}

// fileIdentity tells whether a plugin file is still the one hashed.
type fileIdentity struct {
	path  string
	ino   uint64
	size  int64
	mtime int64
}

func readModule(name string, f *os.File) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(f, maxModuleBytes+1))
	if err != nil {
		return nil, fmt.Errorf("plugin %s: read: %w", name, err)
	}
	if len(b) > maxModuleBytes {
		return nil, fmt.Errorf("plugin %s: larger than %d MiB", name, maxModuleBytes>>20)
	}
	return b, nil
}

// pluginInput is the JSON the plugin function receives.
func pluginInput(config []byte, env []string) ([]byte, error) {
	if len(config) == 0 {
		config = []byte("{}")
	}
	if !json.Valid(config) {
		return nil, errors.New("config is not valid JSON")
	}
	envMap := make(map[string]string, len(env))
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("env entry %q is not KEY=VALUE", kv)
		}
		envMap[k] = v
	}
	return json.Marshal(struct {
		Config json.RawMessage   `json:"config"`
		Env    map[string]string `json:"env"`
	}{config, envMap})
}

// writeLogLine writes one plugin log message as a line; warnings and errors
// are marked so they stand out in the step's log.
func writeLogLine(w io.Writer, level extism.LogLevel, msg string) {
	switch level {
	case extism.LogLevelWarn:
		msg = "warning: " + msg
	case extism.LogLevelError:
		msg = "error: " + msg
	}
	if !strings.HasSuffix(msg, "\n") {
		msg += "\n"
	}
	io.WriteString(w, msg)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
