// Command airlock-agent is Airlock's self-hosted agent. It dials out to the
// control plane (it never listens), proves who it is with its cloud's
// workload identity (--identity aws|gcp|azure|kubernetes|github; there is no
// agent token or key), and runs the jobs it is given.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/airlockci/airlock/agent"
	agentid "github.com/airlockci/airlock/agent/identity"
	"github.com/airlockci/airlock/agent/runner"
	"github.com/airlockci/airlock/agent/runner/docker"
	"github.com/airlockci/airlock/agent/secrets"
)

func main() {
	host, _ := os.Hostname()
	cache, _ := os.UserCacheDir()
	server := flag.String("server", envOr("AIRLOCK_SERVER", "http://127.0.0.1:8787"), "control plane URL ($AIRLOCK_SERVER)")
	name := flag.String("name", host, "agent name, unique for its identity")
	tags := flag.String("tags", "", "comma-separated key=value tags (queue=default unless given)")
	slots := flag.Int("slots", 1, "jobs run at once")
	workDir := flag.String("work-dir", filepath.Join(os.TempDir(), "airlock-agent"), "folder for job workspaces")
	keep := flag.Bool("keep-workspaces", false, "keep each job's workspace after it ends")
	pluginPath := flag.String("plugin-path", "", "colon-separated folders where Wasm plugins are found by name")
	cacheDir := flag.String("cache-dir", filepath.Join(cache, "airlock", "wasm"), "compiled Wasm plugin cache")
	dockerHost := flag.String("docker-host", envOr("DOCKER_HOST", docker.DefaultHost), "Docker Engine API socket for container steps, unix:///path.sock; dockerd or `podman system service` ($DOCKER_HOST)")
	newProver := agentid.FromFlags(flag.CommandLine)
	newResolver := secrets.FromFlags(flag.CommandLine)
	flag.Parse()

	tagMap := map[string]string{}
	for _, kv := range strings.Split(*tags, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			fmt.Fprintf(os.Stderr, "airlock-agent: --tags: %q is not key=value\n", kv)
			os.Exit(2)
		}
		tagMap[k] = v
	}
	prover, err := newProver()
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock-agent: %v\n", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	wasm := &runner.Wasm{PluginPath: filepath.SplitList(*pluginPath), CacheDir: *cacheDir}
	defer wasm.Close(context.Background())
	a := &agent.Agent{
		Name: *name, Tags: tagMap, Slots: *slots, WorkDir: *workDir, KeepWorkspaces: *keep,
		Dialer: &agent.WebSocketDialer{Server: *server, Prover: prover},
		Prover: prover,
		Shell:  &runner.Shell{},
		Wasm:   wasm,
		// The engine is contacted at the first container step; without
		// one, those steps fail with an error naming the socket.
		Container: &runner.Container{Host: *dockerHost},
		Logf:      func(f string, args ...any) { fmt.Fprintf(os.Stderr, "airlock-agent: "+f+"\n", args...) },
	}
	// Secrets are fetched with the same workload identity the agent proves
	// itself with; the control plane only ever sees references.
	if a.Secrets, err = newResolver(); err != nil {
		fmt.Fprintf(os.Stderr, "airlock-agent: %v\n", err)
		os.Exit(2)
	}
	if err := a.Run(ctx); err != nil && ctx.Err() == nil {
		fmt.Fprintf(os.Stderr, "airlock-agent: %v\n", err)
		os.Exit(1)
	}
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}
