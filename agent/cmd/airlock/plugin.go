package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/airlockci/airlock/agent/runner"
)

// multi is a repeatable string flag.
type multi []string

func (m *multi) String() string     { return fmt.Sprint(*m) }
func (m *multi) Set(v string) error { *m = append(*m, v); return nil }

// pluginCmd runs one Wasm plugin locally in exactly the agent's sandbox:
// `airlock plugin run FILE.wasm [flags]`; the exit status is the step's.
func pluginCmd(args []string) int {
	if len(args) == 0 || args[0] != "run" {
		fmt.Fprintln(os.Stderr, "usage: airlock plugin run FILE.wasm [--sha256 H] [--config k=v]... [--config-json JSON] [--allow-host H]... [--workspace DIR] [--read-write] [--timeout D] [--function F]")
		return 2
	}
	fs := newFlagSet("plugin run", "")
	var opts runner.PluginFileOptions
	var config, hosts, env multi
	fs.StringVar(&opts.SHA256, "sha256", "", "refuse the module unless its SHA-256 is this (hex)")
	fs.StringVar(&opts.Function, "function", "", "export to call (default run)")
	fs.Var(&config, "config", "k=v config entry, value as a string (repeatable)")
	configJSON := fs.String("config-json", "", `the whole config as JSON, e.g. '{"files": ["go.sum"]}'`)
	fs.Var(&hosts, "allow-host", "host the plugin may reach over https (repeatable)")
	fs.Var(&env, "env", "KEY=VALUE for the plugin's input (repeatable)")
	fs.StringVar(&opts.Workspace, "workspace", "", "folder granted as the workspace (default: none)")
	rw := fs.Bool("read-write", false, "grant the workspace read-write (default read-only)")
	fs.DurationVar(&opts.Timeout, "timeout", 5*time.Minute, "stop the plugin after this long")
	pos, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return flagsFailed(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(os.Stderr, "airlock plugin run: name exactly one .wasm file")
		return 2
	}
	opts.File = pos[0]
	opts.Config, opts.AllowHosts, opts.Env = config, hosts, env
	if *configJSON != "" {
		opts.ConfigJSON = []byte(*configJSON)
	}
	if *rw {
		opts.WorkspaceMode = runner.WorkspaceReadWrite
	}
	if cache, err := os.UserCacheDir(); err == nil {
		opts.CacheDir = filepath.Join(cache, "airlock", "wasm")
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := runner.RunPluginFile(ctx, opts, os.Stdout)
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock plugin run: %v\n", err)
		return 1
	}
	if res.Reason != "" {
		fmt.Fprintf(os.Stderr, "airlock plugin run: %s\n", res.Reason)
	}
	if res.ExitStatus < 0 || res.ExitStatus > 255 {
		return 1
	}
	return res.ExitStatus
}
