// Package devstack starts Airlock's control plane locally: the real edge
// Wasm on workerd through `wrangler dev`, bound to 127.0.0.1 with its state
// persisted in a folder. `airlock dev`, `make demo` and the integration
// tests use it.
package devstack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// Options say where and how to run the control plane.
type Options struct {
	// Root is the repository root (holds wrangler.toml, node_modules and
	// build/edge).
	Root string
	// Port on 127.0.0.1; 0 picks a free one.
	Port int
	// StateDir keeps the Durable Object and KV state between starts.
	StateDir string
	// LogFile receives wrangler's and workerd's output.
	LogFile string
	// Pools, when set, replaces the bundled agent pools file
	// (.airlock/pools.yml) with this YAML, e.g. Cloud.Pools.
	Pools string
	// SSO, when set, returns the sign-in configuration (.airlock/sso.yml's
	// shape) for the control plane at publicURL, e.g. Identity.SSO.
	SSO func(publicURL string) string
}

// ControlPlane is a running `wrangler dev`.
type ControlPlane struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// Start starts wrangler dev and waits until the Worker and the Scheduler
// Durable Object answer.
func Start(ctx context.Context, o Options) (*ControlPlane, error) {
	for _, need := range []string{"wrangler.toml", "build/edge/airlock.wasm", "build/site/index.html", "node_modules/wrangler/bin/wrangler.js", "node_modules/.bin/node"} {
		if _, err := os.Stat(filepath.Join(o.Root, need)); err != nil {
			return nil, fmt.Errorf("devstack: %s is missing (run `make build` first): %w", need, err)
		}
	}
	port := o.Port
	if port == 0 {
		var err error
		if port, err = FreePort(); err != nil {
			return nil, err
		}
	} else if l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port))); err != nil {
		return nil, fmt.Errorf("devstack: port %d on 127.0.0.1 is taken (is another `make dev` running?): %w", port, err)
	} else {
		l.Close()
	}
	if err := os.MkdirAll(o.StateDir, 0o755); err != nil {
		return nil, err
	}
	logf, err := os.OpenFile(o.LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("devstack: %w", err)
	}
	defer logf.Close()
	args := []string{filepath.Join(o.Root, "node_modules/wrangler/bin/wrangler.js"), "dev",
		"--ip", "127.0.0.1", "--port", strconv.Itoa(port),
		"--inspector-port", strconv.Itoa(mustFreePort()),
		"--persist-to", o.StateDir,
		"--show-interactive-dev-session=false",
		"--log-level", "log",
	}
	if o.Pools != "" {
		args = append(args, "--var", "AIRLOCK_POOLS:"+o.Pools)
	}
	publicURL := fmt.Sprintf("http://127.0.0.1:%d", port)
	if o.SSO != nil {
		args = append(args, "--var", "AIRLOCK_SSO:"+o.SSO(publicURL))
	}
	// wrangler 4 needs Node 22: the npm `node` package's binary, first on
	// PATH for wrangler's own child processes too.
	cmd := exec.Command(filepath.Join(o.Root, "node_modules/.bin/node"), args...)
	cmd.Dir = o.Root
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Join(o.Root, "node_modules/.bin")+string(os.PathListSeparator)+os.Getenv("PATH"),
		"WRANGLER_SEND_METRICS=false", "CI=true", "NO_COLOR=1")
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, so Stop ends workerd too; and if this process
	// dies without stopping it (SIGKILL, a test timeout), the kernel tells
	// wrangler to stop rather than leave it holding the port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("devstack: start wrangler: %w", err)
	}
	cp := &ControlPlane{URL: publicURL, cmd: cmd, done: make(chan struct{})}
	go func() { cp.err = cmd.Wait(); close(cp.done) }()
	if err := cp.waitReady(ctx, 90*time.Second); err != nil {
		cp.Stop()
		return nil, fmt.Errorf("%w (wrangler's log: %s)", err, o.LogFile)
	}
	return cp, nil
}

func (cp *ControlPlane) waitReady(ctx context.Context, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	client := &http.Client{Timeout: 5 * time.Second}
	for _, path := range []string{"/v1/ping", "/v1/healthz"} {
		for {
			resp, err := client.Get(cp.URL + path)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == 200 {
					break
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("devstack: control plane not ready at %s%s after %s", cp.URL, path, limit)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-cp.done:
				return fmt.Errorf("devstack: wrangler exited: %v", cp.err)
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	return nil
}

// Done is closed when wrangler exits.
func (cp *ControlPlane) Done() <-chan struct{} { return cp.done }

// Stop ends wrangler and workerd (the whole process group) and waits.
func (cp *ControlPlane) Stop() error {
	pgid := cp.cmd.Process.Pid
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	select {
	case <-cp.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		<-cp.done
	}
	// workerd may outlive its parent briefly; make sure the group is gone.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	var exitErr *exec.ExitError
	if cp.err != nil && !errors.As(cp.err, &exitErr) {
		return cp.err
	}
	return nil
}

// FreePort is a free TCP port on 127.0.0.1, for a server whose URL must be
// known before it starts (the identity provider needs the callback URL).
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("devstack: no free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func mustFreePort() int {
	p, err := FreePort()
	if err != nil {
		return 9229
	}
	return p
}
