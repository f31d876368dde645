package runner

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/airlockci/airlock/agent/runner/docker"
)

// Labels on every container Airlock creates, so an operator (or a test)
// can find them: `docker ps -a --filter label=ci.airlock`.
const (
	LabelManaged = "ci.airlock"
	LabelJob     = "ci.airlock.job"
)

// DefaultWorkdir is where a container step's workspace is mounted and where
// its commands run, unless the step says otherwise.
const DefaultWorkdir = "/workspace"

// DefaultUlimits are set on every container. Explicit limits keep a step's
// open files and processes bounded, and an engine in a sandbox that cannot
// raise rlimits (podman under another container runtime) needs them set no
// higher than its own.
var DefaultUlimits = []docker.Ulimit{
	{Name: "nofile", Soft: 1024, Hard: 1024},
	{Name: "nproc", Soft: 1024, Hard: 1024},
}

// cleanupTimeout bounds the engine calls that stop and remove a container
// after the step's own context has ended.
const cleanupTimeout = 30 * time.Second

// Container runs a step's commands in a container through the Docker Engine
// API (dockerd or `podman system service`):
//
//	inspect image → pull if absent → create → attach → start → wait
//	                                          (stop, kill on timeout/cancel)
//	                                 → remove, always
//
// The job workspace is bind-mounted at the step's workdir (DefaultWorkdir)
// and the commands run there as one `/bin/sh -e -c` script, with exactly
// the step's environment (none of the agent's own). Output is streamed as
// the container produces it. Every container is removed when the step
// ends, however it ends: AutoRemove is not relied on (podman's does not
// cover every path).
//
// A Container may run several steps at once. The engine is not contacted
// until the first step, so an agent without one starts and fails only the
// container steps, with an error naming the socket.
type Container struct {
	// Host is the engine address, "unix:///path.sock"; empty means
	// $DOCKER_HOST, else docker.DefaultHost.
	Host string
	// Grace is the time between the stop signal and SIGKILL; 0 means
	// DefaultGrace.
	Grace time.Duration
	// Ulimits replace DefaultUlimits when not nil.
	Ulimits []docker.Ulimit

	once   sync.Once
	client *docker.Client
	err    error
}

var _ Runner = (*Container)(nil)

// HostAddress is the engine address the runner uses.
func (c *Container) HostAddress() string {
	if c.Host != "" {
		return c.Host
	}
	if h := os.Getenv("DOCKER_HOST"); h != "" {
		return h
	}
	return docker.DefaultHost
}

// Client returns the runner's engine client.
func (c *Container) Client() (*docker.Client, error) {
	c.once.Do(func() { c.client, c.err = docker.New(c.HostAddress()) })
	return c.client, c.err
}

// Run implements Runner.
func (c *Container) Run(ctx context.Context, step Step, log io.Writer) (Result, error) {
	spec := step.Container
	switch {
	case spec == nil:
		return fail(errors.New("container runner: step has no image"))
	case step.Plugin != nil:
		return fail(errors.New("container runner: step is a plugin step, not a command step"))
	case spec.Image == "":
		return fail(errors.New("container runner: empty image"))
	case len(step.Commands) == 0 && len(spec.Command) == 0:
		return fail(errors.New("container runner: step has no commands"))
	}
	cl, err := c.Client()
	if err != nil {
		return fail(fmt.Errorf("container runner: %w", err))
	}
	dir, err := filepath.Abs(step.Dir)
	if err != nil {
		return fail(fmt.Errorf("container runner: workspace %q: %w", step.Dir, err))
	}
	grace := c.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}

	// The step's timeout covers everything from here, the pull included.
	runCtx, cancelRun := ctx, context.CancelFunc(func() {})
	if step.Timeout > 0 {
		runCtx, cancelRun = context.WithTimeout(ctx, step.Timeout)
	}
	defer cancelRun()
	stopped := func() (Result, bool) { return stoppedEarly(ctx, runCtx) }

	if err := c.ensureImage(runCtx, cl, spec.Image, log); err != nil {
		if r, ok := stopped(); ok {
			return r, nil
		}
		return fail(err)
	}

	name := containerName(step.Job)
	cfg := c.config(step, dir)
	// Whatever happens from here, the container goes. Removal by name also
	// covers a create that succeeded on the engine but whose answer was lost.
	defer func() {
		rctx, cancel := context.WithTimeout(context.Background(), cleanupTimeout)
		defer cancel()
		if err := cl.ContainerRemove(rctx, name); err != nil {
			fmt.Fprintf(log, "airlock: removing container %s: %v\n", name, err)
		}
	}()
	id, err := cl.ContainerCreate(runCtx, name, cfg)
	if err != nil {
		if r, ok := stopped(); ok {
			return r, nil
		}
		return fail(fmt.Errorf("container runner: create a container from %s: %w", spec.Image, err))
	}

	// Attach before start, so no output is lost. The stream ends when the
	// container stops; it is not bound to runCtx, so the output written
	// while the container is being stopped still arrives. (Cancelling a
	// context does not end a hijacked stream; closing it does.)
	stream, err := cl.ContainerAttach(runCtx, id)
	if err != nil {
		if r, ok := stopped(); ok {
			return r, nil
		}
		return fail(fmt.Errorf("container runner: attach to container %s: %w", name, err))
	}
	var closeOnce sync.Once
	closeStream := func() { closeOnce.Do(func() { stream.Close() }) }
	defer closeStream()
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		_ = docker.Demux(log, stream)
	}()
	// drain waits for the output after the container has ended, but not
	// for ever: the engine should close the stream then.
	drain := func() {
		select {
		case <-copied:
		case <-time.After(pipeDrain):
			closeStream()
			<-copied
		}
	}

	if err := cl.ContainerStart(runCtx, id); err != nil {
		// A start cut short by the timeout or a cancel may have started it.
		r, ok := stopped()
		if ok {
			c.stop(cl, id, grace, log)
			drain()
			return r, nil
		}
		closeStream()
		<-copied
		return fail(fmt.Errorf("container runner: start container %s: %w", name, err))
	}

	type waited struct {
		code int
		err  error
	}
	waitDone := make(chan waited, 1)
	go func() {
		code, err := cl.ContainerWait(runCtx, id)
		waitDone <- waited{code, err}
	}()
	select {
	case w := <-waitDone:
		if w.err == nil {
			drain()
			return Result{ExitStatus: w.code}, nil
		}
		if _, ok := stopped(); !ok {
			// The engine lost track of the wait; the container may still run.
			c.stop(cl, id, grace, log)
			drain()
			fmt.Fprintf(log, "airlock: waiting for container %s: %v\n", name, w.err)
			return Result{ExitStatus: -1, Reason: "container: " + w.err.Error()}, nil
		}
	case <-runCtx.Done():
	}
	r, _ := stopped()
	c.stop(cl, id, grace, log)
	drain()
	return r, nil
}

// stop ends a running container: its stop signal, SIGKILL after grace, and
// a kill of our own should the engine's stop not return in time.
func (c *Container) stop(cl *docker.Client, id string, grace time.Duration, log io.Writer) {
	ctx, cancel := context.WithTimeout(context.Background(), grace+cleanupTimeout/2)
	defer cancel()
	if err := cl.ContainerStop(ctx, id, grace); err == nil {
		return
	}
	kctx, kcancel := context.WithTimeout(context.Background(), cleanupTimeout/2)
	defer kcancel()
	if err := cl.ContainerKill(kctx, id); err != nil && !errors.Is(err, docker.ErrNotFound) {
		fmt.Fprintf(log, "airlock: killing container: %v\n", err)
	}
}

// ensureImage pulls ref unless the engine already has it.
func (c *Container) ensureImage(ctx context.Context, cl *docker.Client, ref string, log io.Writer) error {
	ok, err := cl.ImageExists(ctx, ref)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("container runner: no container engine at %s (set --docker-host or DOCKER_HOST): %w", cl.Host(), err)
	}
	if ok {
		return nil
	}
	fmt.Fprintf(log, "airlock: pulling image %s\n", ref)
	err = cl.ImagePull(ctx, ref, func(line string) { fmt.Fprintf(log, "airlock: %s\n", line) })
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("container runner: image %s is not on this machine and pulling it failed: %w", ref, err)
	}
	return nil
}

// config is the container for step, workspace dir mounted.
func (c *Container) config(step Step, dir string) docker.ContainerConfig {
	spec := step.Container
	workdir := spec.Workdir
	if workdir == "" {
		workdir = DefaultWorkdir
	}
	cfg := docker.ContainerConfig{
		Image:        spec.Image,
		Env:          containerEnv(step.Env, spec.Environment),
		WorkingDir:   workdir,
		Labels:       map[string]string{LabelManaged: "true", LabelJob: step.Job},
		AttachStdout: true,
		AttachStderr: true,
		HostConfig: docker.HostConfig{
			Binds:   []string{dir + ":" + workdir},
			Ulimits: c.Ulimits,
		},
	}
	if cfg.HostConfig.Ulimits == nil {
		cfg.HostConfig.Ulimits = DefaultUlimits
	}
	switch {
	case spec.Entrypoint != "":
		cfg.Entrypoint = []string{spec.Entrypoint}
		cfg.Cmd = step.Commands
		if len(cfg.Cmd) == 0 {
			cfg.Cmd = spec.Command
		}
	case len(step.Commands) > 0:
		cfg.Cmd = []string{"/bin/sh", "-e", "-c", strings.Join(step.Commands, "\n")}
	default:
		cfg.Cmd = spec.Command
	}
	return cfg
}

// containerEnv is the step's environment with the docker plugin's
// `environment` applied: "KEY=VALUE" sets, a bare "KEY" passes the step's
// value or else the agent's. Later entries replace earlier ones of the same
// name, keeping the first one's place, so every name appears once.
func containerEnv(stepEnv, environment []string) []string {
	var out []string
	at := map[string]int{}
	set := func(kv string) {
		name, _, _ := strings.Cut(kv, "=")
		if i, ok := at[name]; ok {
			out[i] = kv
			return
		}
		at[name] = len(out)
		out = append(out, kv)
	}
	for _, kv := range stepEnv {
		set(kv)
	}
	for _, e := range environment {
		if strings.Contains(e, "=") {
			set(e)
			continue
		}
		if _, ok := at[e]; ok {
			continue
		}
		if v, ok := os.LookupEnv(e); ok {
			set(e + "=" + v)
		}
	}
	return out
}

// containerName is unique per step run and says whose it is.
func containerName(job string) string {
	var b [4]byte
	rand.Read(b[:])
	safe := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.' {
			return r
		}
		return '_'
	}, job)
	if len(safe) > 64 {
		safe = safe[:64]
	}
	if safe == "" {
		safe = "step"
	}
	return "airlock-" + safe + "-" + hex.EncodeToString(b[:])
}
