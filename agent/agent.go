// Package agent is Airlock's self-hosted agent: it dials out to the control
// plane, proves who it is, and runs the jobs it is given in their own
// workspace folders, streaming their logs back.
//
// The agent never listens on a port. Its one connection is outbound; when it
// drops, the agent keeps running its jobs, reconnects with jittered
// exponential backoff, and re-sends every log chunk and result the control
// plane has not acknowledged, so nothing is lost or duplicated.
package agent

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/airlockci/airlock/agent/redact"
	"github.com/airlockci/airlock/agent/runner"
	"github.com/airlockci/airlock/agent/secrets"
	"github.com/airlockci/airlock/internal/identity"
	"github.com/airlockci/airlock/internal/wire"
)

// Version is the agent's version, sent in Hello.
var Version = "dev"

// Conn is one connection to the control plane. Read blocks for the next
// frame; Write may be called from several goroutines at once. Close ends the
// connection and makes a blocked Read return.
type Conn interface {
	Read(ctx context.Context) ([]byte, error)
	Write(frame []byte) error
	Close() error
}

// Dialer opens connections to the control plane.
type Dialer interface {
	Dial(ctx context.Context) (Conn, error)
}

// Agent runs jobs for one control plane. Set the fields, then call Run.
type Agent struct {
	Name  string
	Tags  map[string]string
	Slots int
	// WorkDir holds one workspace folder per job.
	WorkDir string
	// KeepWorkspaces leaves finished jobs' folders in place.
	KeepWorkspaces bool
	// Workspace, when set, is the folder every job runs in as it is: no
	// checkout, nothing removed (`airlock run --local` on a working tree).
	Workspace string
	Dialer    Dialer
	// Prover answers the control plane\'s re-proof challenges on an open
	// connection; nil for a connection that needs none.
	Prover Prover
	Shell  runner.Runner
	Wasm   runner.Runner
	// Container runs steps with an image; nil refuses them.
	Container runner.Runner
	// Secrets resolves the references a job declares, with the agent's own
	// identity; nil resolves none (a job that declares secrets fails).
	Secrets *secrets.Resolver
	// Logf receives the agent's own operational messages.
	Logf func(format string, args ...any)

	mu   sync.Mutex
	jobs map[string]*job // by job ID
	conn Conn            // current connection, nil while disconnected
	wg   sync.WaitGroup  // running jobs
}

// job is one attempt the agent runs or has finished but not had acknowledged.
type job struct {
	spec   *wire.Job
	cancel context.CancelFunc
	// unacked log chunks in order; acked ones are dropped.
	unacked  []wire.Log
	nextSeq  int64
	finished *wire.Finished
}

// Run connects and serves jobs until ctx ends; then it cancels running jobs,
// waits for them, and returns ctx's error.
func (a *Agent) Run(ctx context.Context) error {
	if a.Slots < 1 {
		a.Slots = 1
	}
	if a.Logf == nil {
		a.Logf = func(string, ...any) {}
	}
	a.mu.Lock()
	a.jobs = map[string]*job{}
	a.mu.Unlock()
	defer a.wg.Wait()
	backoff := newBackoff(500*time.Millisecond, 10*time.Second)
	for {
		conn, err := a.Dialer.Dial(ctx)
		if err == nil {
			start := time.Now()
			err = a.serve(ctx, conn)
			if time.Since(start) > 30*time.Second {
				backoff.reset()
			}
		}
		if ctx.Err() != nil {
			a.cancelAll()
			return ctx.Err()
		}
		var fatal *FatalError
		if errors.As(err, &fatal) {
			a.cancelAll()
			return err
		}
		d := backoff.next()
		a.Logf("connection: %v; reconnecting in %s", err, d.Round(time.Millisecond))
		select {
		case <-ctx.Done():
			a.cancelAll()
			return ctx.Err()
		case <-time.After(d):
		}
	}
}

// FatalError ends Run: retrying cannot help (for example the control plane
// refused the agent's identity).
type FatalError struct{ Err error }

func (e *FatalError) Error() string { return e.Err.Error() }
func (e *FatalError) Unwrap() error { return e.Err }

func (a *Agent) cancelAll() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, j := range a.jobs {
		if j.cancel != nil {
			j.cancel()
		}
	}
}

// serve speaks the protocol on one connection until it fails.
func (a *Agent) serve(ctx context.Context, conn Conn) error {
	defer conn.Close()
	connCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() { <-connCtx.Done(); conn.Close() }()

	a.mu.Lock()
	hello := &wire.Hello{Name: a.Name, Version: Version, Tags: a.Tags, Slots: a.Slots}
	for _, j := range a.jobs {
		hello.Running = append(hello.Running, j.spec.JobRef)
	}
	a.mu.Unlock()
	if err := write(conn, wire.Frame{Type: wire.THello, Hello: hello}); err != nil {
		return err
	}
	// The first answer must be Welcome (or an Error saying why not).
	b, err := conn.Read(connCtx)
	if err != nil {
		return err
	}
	f, err := wire.Decode(b)
	if err != nil {
		return fmt.Errorf("control plane sent a bad frame: %w", err)
	}
	if f.Type == wire.TError {
		return fmt.Errorf("control plane refused the connection: %s", f.Error.Message)
	}
	if f.Type != wire.TWelcome {
		return fmt.Errorf("control plane answered hello with %s, want welcome", f.Type)
	}
	a.welcome(conn, f.Welcome)
	a.Logf("connected as %s (%s)", a.Name, f.Welcome.AgentID)

	interval := time.Duration(f.Welcome.HeartbeatSeconds) * time.Second
	if interval <= 0 || interval > wire.HeartbeatInterval {
		interval = wire.HeartbeatInterval
	}
	go a.heartbeat(connCtx, conn, interval)
	defer func() {
		a.mu.Lock()
		if a.conn == conn {
			a.conn = nil
		}
		a.mu.Unlock()
	}()
	for {
		b, err := conn.Read(connCtx)
		if err != nil {
			return err
		}
		f, err := wire.Decode(b)
		if err != nil {
			return fmt.Errorf("control plane sent a bad frame: %w", err)
		}
		switch f.Type {
		case wire.TAssign:
			a.start(ctx, conn, f.Assign)
		case wire.TCancel:
			a.cancelJob(*f.Cancel)
		case wire.TLogAck:
			a.ack(f.LogAck)
		case wire.TFinishedAck:
			a.forget(*f.FinishedAck)
		case wire.TChallenge:
			go a.reprove(connCtx, conn, f.Challenge.Challenge)
		case wire.TError:
			return fmt.Errorf("control plane closed the connection: %s", f.Error.Message)
		default:
			return fmt.Errorf("control plane sent an unexpected %s frame", f.Type)
		}
	}
}

// welcome makes conn current: jobs the control plane no longer holds are
// stopped and forgotten; everything unacknowledged is sent again.
func (a *Agent) welcome(conn Conn, w *wire.Welcome) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, ref := range w.Unknown {
		if j := a.jobs[ref.ID]; j != nil && j.spec.Attempt == ref.Attempt {
			if j.cancel != nil {
				j.cancel()
			}
			delete(a.jobs, ref.ID)
		}
	}
	a.conn = conn
	for _, j := range a.jobs {
		for i := range j.unacked {
			_ = write(conn, wire.Frame{Type: wire.TLog, Log: &j.unacked[i]})
		}
		if j.finished != nil {
			_ = write(conn, wire.Frame{Type: wire.TFinished, Finished: j.finished})
		}
	}
}

// reprove answers a re-proof challenge so the connection outlives the
// credentials it was opened with. A failure is logged; the control plane
// closes the connection at the deadline and the agent reconnects with fresh
// credentials.
func (a *Agent) reprove(ctx context.Context, conn Conn, challenge string) {
	if a.Prover == nil {
		a.Logf("re-proof requested but this agent has no prover")
		return
	}
	p, err := a.Prover.Prove(ctx, challenge)
	if err != nil {
		a.Logf("re-proof: %v", err)
		return
	}
	enc, err := identity.EncodeProof(p)
	if err != nil {
		a.Logf("re-proof: %v", err)
		return
	}
	if err := write(conn, wire.Frame{Type: wire.TProof, Proof: &wire.Proof{Proof: enc}}); err != nil {
		a.Logf("re-proof: %v", err)
	}
}

func (a *Agent) heartbeat(ctx context.Context, conn Conn, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := write(conn, wire.Frame{Type: wire.THeartbeat, Heartbeat: &wire.Heartbeat{SentMS: now.UnixMilli()}}); err != nil {
				conn.Close()
				return
			}
		}
	}
}

func write(conn Conn, f wire.Frame) error {
	b, err := wire.Encode(f)
	if err != nil {
		return err
	}
	return conn.Write(b)
}

// sendCurrent sends f on the current connection, if there is one; frames
// that cannot be sent now are re-sent after the next Welcome.
func (a *Agent) sendCurrent(f wire.Frame) {
	a.mu.Lock()
	conn := a.conn
	a.mu.Unlock()
	if conn != nil {
		_ = write(conn, f)
	}
}

func (a *Agent) start(ctx context.Context, conn Conn, spec *wire.Job) {
	a.mu.Lock()
	if old := a.jobs[spec.ID]; old != nil {
		a.mu.Unlock()
		if old.spec.Attempt == spec.Attempt {
			return // a duplicate assignment of what already runs
		}
		a.mu.Lock()
		if old.cancel != nil {
			old.cancel()
		}
	}
	jctx, cancel := context.WithCancel(ctx)
	j := &job{spec: spec, cancel: cancel}
	a.jobs[spec.ID] = j
	a.wg.Add(1)
	a.mu.Unlock()
	_ = write(conn, wire.Frame{Type: wire.TAccept, Accept: &spec.JobRef})
	go func() {
		defer a.wg.Done()
		defer cancel()
		a.runJob(jctx, j)
	}()
}

func (a *Agent) cancelJob(ref wire.JobRef) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if j := a.jobs[ref.ID]; j != nil && j.spec.Attempt == ref.Attempt && j.cancel != nil {
		j.cancel()
	}
}

func (a *Agent) ack(ack *wire.LogAck) {
	a.mu.Lock()
	defer a.mu.Unlock()
	j := a.jobs[ack.ID]
	if j == nil || j.spec.Attempt != ack.Attempt {
		return
	}
	i := 0
	for i < len(j.unacked) && j.unacked[i].Seq <= ack.Seq {
		i++
	}
	j.unacked = append(j.unacked[:0], j.unacked[i:]...)
}

func (a *Agent) forget(ref wire.JobRef) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if j := a.jobs[ref.ID]; j != nil && j.spec.Attempt == ref.Attempt && j.finished != nil {
		delete(a.jobs, ref.ID)
	}
}

// runJob prepares the workspace, runs the step and reports how it ended.
func (a *Agent) runJob(ctx context.Context, j *job) {
	spec := j.spec
	started := time.Now()
	logw := newChunker(func(data []byte) { a.appendLog(j, data) })
	res := a.execute(ctx, spec, logw)
	logw.Close()
	a.mu.Lock()
	j.finished = &wire.Finished{
		JobRef: spec.JobRef, ExitStatus: res.ExitStatus, Reason: res.Reason, LastSeq: j.nextSeq,
		StartedMS: started.UnixMilli(), FinishedMS: time.Now().UnixMilli(),
	}
	fin := *j.finished
	a.mu.Unlock()
	a.Logf("job %s (%s) attempt %d: exit %d %s", spec.ID, spec.Key, spec.Attempt, res.ExitStatus, res.Reason)
	a.sendCurrent(wire.Frame{Type: wire.TFinished, Finished: &fin})
}

// execute runs the step; a failure to set it up is reported in its log and
// as its result.
func (a *Agent) execute(ctx context.Context, spec *wire.Job, log io.Writer) runner.Result {
	dir, err := a.workspace(ctx, spec, log)
	if err != nil {
		fmt.Fprintf(log, "airlock: preparing the workspace: %v\n", err)
		return runner.Result{ExitStatus: -1, Reason: "workspace: " + err.Error()}
	}
	if !a.KeepWorkspaces && a.Workspace == "" {
		defer os.RemoveAll(dir)
	}
	// After the checkout: age:// secrets are files in the workspace.
	resolved, err := a.Secrets.Resolve(ctx, spec.Secrets, dir)
	if err != nil {
		// The error names the reference, never a value.
		fmt.Fprintf(log, "airlock: %v\n", err)
		return runner.Result{ExitStatus: -1, Reason: err.Error()}
	}
	// Every byte the step writes, and its failure reason, is masked here on
	// the agent, before anything is sent: the control plane never sees a
	// secret value, in any of its common encodings.
	named := make([]redact.Secret, len(resolved))
	for i, r := range resolved {
		named[i] = redact.Secret{Name: r.Env, Value: r.Value}
	}
	red, warnings := redact.New(named, redact.Options{})
	masked := red.Writer(log)
	for _, w := range warnings {
		fmt.Fprintf(masked, "airlock: warning: %s\n", w)
	}
	res := RunStep(ctx, a.Shell, a.Wasm, a.Container, spec, dir, masked, resolved)
	masked.Close() // flushes the held-back tail into log
	res.Reason = red.String(res.Reason)
	return res
}

// RunStep runs one job's step in dir with the right runner. It is shared by
// the agent and `airlock run --local`. resolved are the step's secrets: each
// goes into its environment variable and, for a Wasm plugin, airlock_secret.
func RunStep(ctx context.Context, shell, wasm, container runner.Runner, spec *wire.Job, dir string, log io.Writer, resolved []secrets.Secret) runner.Result {
	step := runner.Step{Dir: dir, Commands: spec.Commands, Plugin: spec.Plugin, Container: spec.Container, Job: spec.ID}
	step.Env = append(step.Env,
		"CI=true", "AIRLOCK=true",
		"AIRLOCK_RUN_ID="+spec.RunID, "AIRLOCK_JOB_ID="+spec.ID, "AIRLOCK_STEP_KEY="+spec.Key,
		fmt.Sprintf("AIRLOCK_ATTEMPT=%d", spec.Attempt), "AIRLOCK_COMMIT="+spec.Commit)
	for _, e := range spec.Env {
		step.Env = append(step.Env, e.Name+"="+e.Value)
	}
	// After env: the parser refuses a name that is both, so nothing is
	// shadowed; later entries win in the runners.
	for _, s := range resolved {
		step.Env = append(step.Env, s.Env+"="+s.Value)
		if step.Secrets == nil {
			step.Secrets = make(map[string]string, len(resolved))
		}
		step.Secrets[s.Env] = s.Value
	}
	if spec.TimeoutMinutes > 0 {
		step.Timeout = time.Duration(spec.TimeoutMinutes) * time.Minute
	}
	r := shell
	switch {
	case spec.Plugin != nil:
		r = wasm
	case spec.Container != nil:
		r = container
		if r == nil {
			fmt.Fprintf(log, "airlock: this agent runs no container steps (no container engine configured); the step needs image %s\n", spec.Container.Image)
			return runner.Result{ExitStatus: -1, Reason: "no container engine on this agent"}
		}
	}
	if r == nil {
		fmt.Fprintf(log, "airlock: this agent cannot run this kind of step\n")
		return runner.Result{ExitStatus: -1, Reason: "no runner for this step"}
	}
	res, err := r.Run(ctx, step, log)
	if err != nil {
		fmt.Fprintf(log, "airlock: %v\n", err)
		return runner.Result{ExitStatus: -1, Reason: err.Error()}
	}
	return res
}

// workspace makes the job's folder and checks the run's commit out into it.
func (a *Agent) workspace(ctx context.Context, spec *wire.Job, log io.Writer) (string, error) {
	if a.Workspace != "" {
		return a.Workspace, nil
	}
	name := fmt.Sprintf("%s-%s-%d", safeName(spec.RunID), safeName(spec.Key), spec.Attempt)
	dir := filepath.Join(a.WorkDir, name)
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if spec.Repository == "" {
		return dir, nil
	}
	if err := Checkout(ctx, spec.Repository, spec.Commit, dir, log); err != nil {
		os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

func safeName(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
			return r
		}
		return '_'
	}, s)
}

func (a *Agent) appendLog(j *job, data []byte) {
	a.mu.Lock()
	j.nextSeq++
	l := wire.Log{JobRef: j.spec.JobRef, Seq: j.nextSeq, Data: data}
	j.unacked = append(j.unacked, l)
	conn := a.conn
	a.mu.Unlock()
	if conn != nil {
		_ = write(conn, wire.Frame{Type: wire.TLog, Log: &l})
	}
}

// backoff is jittered exponential backoff ("full jitter").
type backoff struct {
	base, max, cur time.Duration
}

func newBackoff(base, max time.Duration) *backoff { return &backoff{base: base, max: max, cur: base} }

func (b *backoff) next() time.Duration {
	d := b.cur/2 + rand.N(b.cur/2+1)
	b.cur *= 2
	if b.cur > b.max {
		b.cur = b.max
	}
	return d
}

func (b *backoff) reset() { b.cur = b.base }
