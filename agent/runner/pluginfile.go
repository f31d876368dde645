package runner

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/airlockci/airlock/internal/wire"
)

// PluginFileOptions are the settings of `airlock plugin run FILE.wasm`.
type PluginFileOptions struct {
	// File is the module's path on this machine.
	File string
	// SHA256, if set, pins the module (hex).
	SHA256 string
	// Function is the export to call; empty means DefaultFunction.
	Function string
	// Config are --config k=v pairs; every value is a string, as the
	// pipeline parser makes them. A key given twice keeps the last value.
	Config []string
	// ConfigJSON, if set, is the whole config instead of Config.
	ConfigJSON []byte
	// Env are KEY=VALUE entries for the plugin's input.
	Env []string
	// AllowHosts are --allow-host values.
	AllowHosts []string
	// Workspace is the directory granted as the workspace; empty grants
	// none.
	Workspace string
	// WorkspaceMode is WorkspaceReadOnly (the default when Workspace is
	// set) or WorkspaceReadWrite.
	WorkspaceMode string
	// Timeout stops the plugin; 0 for none.
	Timeout time.Duration
	// MemoryBytes caps the plugin's memory; 0 for DefaultMaxMemoryPages.
	MemoryBytes int64
	// Secrets are the values airlock_secret returns, by name.
	Secrets map[string]string
	// CacheDir keeps compiled code between runs; empty compiles every time.
	CacheDir string
}

// RunPluginFile runs one plugin module from a file in exactly the sandbox
// the agent gives a plugin step (the same Wasm runner), without a control
// plane. The module is checked against SHA256 when one is given. The
// Result's ExitStatus is the step's, -1 when the plugin was stopped or
// crashed; an error means it could not start.
func RunPluginFile(ctx context.Context, opts PluginFileOptions, log io.Writer) (Result, error) {
	config := opts.ConfigJSON
	if len(config) == 0 && len(opts.Config) > 0 {
		m := make(map[string]string, len(opts.Config))
		for _, kv := range opts.Config {
			k, v, ok := strings.Cut(kv, "=")
			if !ok || k == "" {
				return fail(fmt.Errorf("--config %q: want KEY=VALUE", kv))
			}
			m[k] = v
		}
		config, _ = json.Marshal(m)
	}
	mode := ""
	if opts.Workspace != "" {
		mode = opts.WorkspaceMode
		if mode == "" {
			mode = WorkspaceReadOnly
		}
		info, err := os.Stat(opts.Workspace)
		if err != nil || !info.IsDir() {
			return fail(fmt.Errorf("--workspace %s: not a directory", opts.Workspace))
		}
	}
	f, err := os.Open(opts.File)
	if err != nil {
		return fail(fmt.Errorf("plugin %s: %w", opts.File, err))
	}
	module, err := readModule(opts.File, f)
	f.Close()
	if err != nil {
		return fail(err)
	}
	sum := sha256.Sum256(module)
	got := hex.EncodeToString(sum[:])
	if opts.SHA256 != "" && !strings.EqualFold(opts.SHA256, got) {
		return fail(fmt.Errorf("plugin %s: %w: sha256 is %s, --sha256 pins %s", opts.File, ErrModuleRefused, got, opts.SHA256))
	}

	w := &Wasm{CacheDir: opts.CacheDir}
	if opts.MemoryBytes > 0 {
		w.MaxMemoryPages = uint32((opts.MemoryBytes + 65535) / 65536)
	}
	defer w.Close(context.Background())
	if err := w.init(); err != nil {
		return fail(err)
	}
	step := Step{
		Dir:     opts.Workspace,
		Env:     opts.Env,
		Timeout: opts.Timeout,
		Secrets: opts.Secrets,
		Plugin: &wire.Plugin{
			Module:     filepath.Base(opts.File),
			SHA256:     got,
			Function:   opts.Function,
			Config:     config,
			Workspace:  mode,
			AllowHosts: opts.AllowHosts,
		},
	}
	lim, err := w.limits(step)
	if err != nil {
		return fail(err)
	}
	return w.run(ctx, step, lim, got, func() ([]byte, error) { return module, nil }, log)
}
