package runner

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	extism "github.com/extism/go-sdk"
	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/sys"
)

// DefaultMaxMemoryPages caps a plugin's linear memory when
// Wasm.MaxMemoryPages is zero: 512 pages of 64 KiB, 32 MiB.
const DefaultMaxMemoryPages = 512

// DefaultFunction is the export a plugin step calls when Plugin.Function is
// empty.
const DefaultFunction = "run"

// WorkspaceMount is where a plugin sees the step's workspace (read-only).
const WorkspaceMount = "/workspace"

// maxModuleBytes bounds how much of a module file is read.
const maxModuleBytes = 256 << 20

// ErrModuleRefused is wrapped by the errors for a plugin module that was
// found but may not run: a path leaving the workspace, an unsupported URL,
// or content that does not match its pinned SHA-256.
var ErrModuleRefused = errors.New("plugin module refused")

// Wasm runs a step's Plugin, an Extism plugin, on wazero. See
// plugins/README.md for the contract a plugin implements.
//
// A plugin gets no capability but these: the step's workspace mounted
// read-only at /workspace (symbolic links that lead out of it do not
// resolve), the wall clock, a sleep, and random bytes; its
// stdout and stderr go to the step's log. It has no environment variables
// (Step.Env reaches it in its input), no network and no other file. Its
// memory is capped at MaxMemoryPages, and timeout and cancellation stop it
// even in the middle of a loop.
//
// Compiled modules are kept in memory, keyed by the SHA-256 of their bytes,
// for the life of the Wasm, and on disk in CacheDir, so a module is compiled
// once however many steps run it. Set the fields before the first Run and
// do not change them after; a Wasm may run several steps at once. Close
// releases it once no Run is in progress.
type Wasm struct {
	// PluginPath lists the directories where a Module that is a bare file
	// name is looked up, in order.
	PluginPath []string
	// CacheDir holds wazero's compilation cache; empty keeps it in memory.
	CacheDir string
	// MaxMemoryPages caps each plugin's memory in 64 KiB pages; 0 means
	// DefaultMaxMemoryPages.
	MaxMemoryPages uint32

	initOnce sync.Once
	initErr  error
	cache    wazero.CompilationCache

	mu       sync.Mutex
	compiled map[string]*compiledPlugin // by hex SHA-256 of the module
	compiles atomic.Int64               // modules handed to the compiler, for tests
}

var _ Runner = (*Wasm)(nil)

type compiledPlugin struct {
	ready  chan struct{} // closed when plugin and err are set
	plugin *extism.CompiledPlugin
	err    error
}

// setLogLevel turns on Extism's log host functions, which are off until
// a process-wide level is set. The level is global to the Extism SDK; each
// plugin instance still has its own log writer.
var setLogLevel sync.Once

func (w *Wasm) init() error {
	w.initOnce.Do(func() {
		setLogLevel.Do(func() { extism.SetLogLevel(extism.LogLevelInfo) })
		w.compiled = make(map[string]*compiledPlugin)
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

// Close releases every compiled module and the compilation cache (the files
// in CacheDir stay). Runs must have returned, and w is not used again.
func (w *Wasm) Close(ctx context.Context) error {
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
	return errors.Join(errs...)
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
	input, err := pluginInput(p.Config, step.Env)
	if err != nil {
		return fail(fmt.Errorf("plugin %s: %w", p.Module, err))
	}
	module, err := w.loadModule(p.Module, step.Dir)
	if err != nil {
		return fail(err)
	}
	sum := sha256.Sum256(module)
	got := hex.EncodeToString(sum[:])
	if p.SHA256 != "" && !strings.EqualFold(p.SHA256, got) {
		return fail(fmt.Errorf("plugin %s: %w: sha256 is %s, the step pins %s", p.Module, ErrModuleRefused, got, p.SHA256))
	}
	compiled, err := w.compile(ctx, got, module)
	if ctx.Err() != nil {
		return Result{ExitStatus: -1, Reason: ReasonCancelled}, nil
	}
	if err != nil {
		return fail(fmt.Errorf("plugin %s: compile: %w", p.Module, err))
	}

	runCtx := ctx
	if step.Timeout > 0 {
		var cancel context.CancelFunc
		runCtx, cancel = context.WithTimeout(ctx, step.Timeout)
		defer cancel()
	}
	stopped := func() (Result, bool) {
		switch {
		case ctx.Err() != nil:
			return Result{ExitStatus: -1, Reason: ReasonCancelled}, true
		case runCtx.Err() != nil:
			return Result{ExitStatus: -1, Reason: ReasonTimedOut}, true
		}
		return Result{}, false
	}

	// The workspace is served through os.Root, which refuses paths and
	// symbolic links that lead out of it: a checkout may contain a link to
	// /etc or to the agent's own files, and a plain directory mount would
	// follow it. An fs.FS mount is read-only.
	workspace, err := os.OpenRoot(step.Dir)
	if err != nil {
		return fail(fmt.Errorf("plugin %s: open workspace: %w", p.Module, err))
	}
	defer workspace.Close()
	mc := wazero.NewModuleConfig().
		WithFSConfig(wazero.NewFSConfig().WithFSMount(workspace.FS(), WorkspaceMount)).
		WithStdout(log).
		WithStderr(log).
		WithSysWalltime().
		WithSysNanotime().
		WithSysNanosleep().
		WithRandSource(rand.Reader)
	instance, err := compiled.Instance(runCtx, extism.PluginInstanceConfig{ModuleConfig: mc})
	if err != nil {
		if r, ok := stopped(); ok {
			return r, nil
		}
		return fail(fmt.Errorf("plugin %s: instantiate: %w", p.Module, err))
	}
	// A fresh context: runCtx may be done, and closing must still happen.
	defer instance.Close(context.Background())
	instance.SetLogger(func(level extism.LogLevel, msg string) {
		writeLogLine(log, level, msg)
	})

	fn := p.Function
	if fn == "" {
		fn = DefaultFunction
	}
	if !instance.FunctionExists(fn) {
		return fail(fmt.Errorf("plugin %s does not export function %q", p.Module, fn))
	}

	rc, output, err := instance.CallWithContext(runCtx, fn, input)
	if len(output) > 0 {
		log.Write(output)
		if output[len(output)-1] != '\n' {
			io.WriteString(log, "\n")
		}
	}
	if r, ok := stopped(); ok {
		return r, nil
	}
	if err == nil {
		return Result{ExitStatus: int(int32(rc))}, nil
	}
	// pdk.SetError: the function returned, with an error message for the
	// user; its return code still stands.
	if guestErr := instance.GetErrorWithContext(context.Background()); guestErr != "" && guestErr == err.Error() {
		writeLogLine(log, extism.LogLevelError, guestErr)
		return Result{ExitStatus: int(int32(rc))}, nil
	}
	// The guest trapped or called exit: it never returned. A Go plugin
	// traps (unreachable) after printing a panic or a fatal error such as
	// running out of memory to stderr, which is in the log.
	fmt.Fprintf(log, "plugin failed (memory cap %d MiB): %v\n", w.maxPages()/16, err)
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

// compile returns the compiled form of module, whose hex SHA-256 is sum,
// compiling it at most once however many Runs ask at the same time.
func (w *Wasm) compile(ctx context.Context, sum string, module []byte) (*extism.CompiledPlugin, error) {
	w.mu.Lock()
	c, ok := w.compiled[sum]
	if ok {
		w.mu.Unlock()
		select {
		case <-c.ready:
			return c.plugin, c.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	c = &compiledPlugin{ready: make(chan struct{})}
	w.compiled[sum] = c
	w.mu.Unlock()

	w.compiles.Add(1)
	rc := wazero.NewRuntimeConfig().
		WithCompilationCache(w.cache).
		WithMemoryLimitPages(w.maxPages()).
		WithCloseOnContextDone(true)
	c.plugin, c.err = extism.NewCompiledPlugin(ctx,
		extism.Manifest{Wasm: []extism.Wasm{extism.WasmData{Data: module}}},
		extism.PluginConfig{RuntimeConfig: rc, EnableWasi: true},
		nil)
	close(c.ready)
	if c.err != nil {
		// Let a later Run try again rather than remember the failure.
		w.mu.Lock()
		if w.compiled[sum] == c {
			delete(w.compiled, sum)
		}
		w.mu.Unlock()
	}
	return c.plugin, c.err
}

// loadModule reads the module a step names: a bare file name from the plugin
// path, or a path relative to (and inside) the workspace dir.
func (w *Wasm) loadModule(name, dir string) ([]byte, error) {
	switch {
	case name == "":
		return nil, errors.New("plugin step has no module")
	case strings.HasPrefix(name, "https://"):
		return nil, fmt.Errorf("plugin %s: %w: https modules are not supported yet; put the module in the workspace or in the agent's plugin path", name, ErrModuleRefused)
	case strings.Contains(name, "://"):
		return nil, fmt.Errorf("plugin %s: %w: want a file name, a path relative to the workspace, or an https URL", name, ErrModuleRefused)
	case !strings.Contains(name, "/"):
		return w.loadFromPluginPath(name)
	}
	if filepath.IsAbs(name) {
		return nil, fmt.Errorf("plugin %s: %w: an absolute path; want a path relative to the workspace", name, ErrModuleRefused)
	}
	clean := filepath.Clean(name)
	if clean == ".." || strings.HasPrefix(clean, "../") {
		return nil, fmt.Errorf("plugin %s: %w: the path leaves the workspace", name, ErrModuleRefused)
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

func (w *Wasm) loadFromPluginPath(name string) ([]byte, error) {
	if name == "." || name == ".." {
		return nil, fmt.Errorf("plugin %s: %w: not a file name", name, ErrModuleRefused)
	}
	for _, dir := range w.PluginPath {
		f, err := os.Open(filepath.Join(dir, name))
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("plugin %s: %w", name, err)
		}
		defer f.Close()
		return readModule(name, f)
	}
	return nil, fmt.Errorf("plugin %s: not found in the plugin path %q", name, w.PluginPath)
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
