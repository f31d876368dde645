package agent_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockci/airlock/agent"
	"github.com/airlockci/airlock/agent/local"
	"github.com/airlockci/airlock/agent/runner"
	"github.com/airlockci/airlock/edge/scheduler"
)

// flakyDialer hands out connections from the real in-process control plane
// and lets the test cut the current one.
type flakyDialer struct {
	inner agent.Dialer
	mu    sync.Mutex
	conns []agent.Conn
	dials int
}

func (d *flakyDialer) Dial(ctx context.Context) (agent.Conn, error) {
	c, err := d.inner.Dial(ctx)
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conns = append(d.conns, c)
	d.dials++
	d.mu.Unlock()
	return c, nil
}

func (d *flakyDialer) cut() {
	d.mu.Lock()
	c := d.conns[len(d.conns)-1]
	d.mu.Unlock()
	c.Close()
}

func (d *flakyDialer) count() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.dials
}

func startAgent(t *testing.T, cp *local.ControlPlane, d agent.Dialer, slots int) {
	t.Helper()
	a := &agent.Agent{Name: "t", Slots: slots, WorkDir: t.TempDir(), Dialer: d, Shell: &runner.Shell{},
		Logf: func(f string, args ...any) { t.Logf(f, args...) }}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
}

func newControlPlane(t *testing.T) *local.ControlPlane {
	cp, err := local.New(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	return cp
}

func waitRun(t *testing.T, cp *local.ControlPlane, id string) scheduler.RunView {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		v, err := cp.Run(id)
		if err != nil {
			t.Fatal(err)
		}
		if v.State != scheduler.RunRunning {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("run still running: %+v", v.Jobs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The connection drops while a job prints 1000 lines; the agent reconnects
// and re-sends what was not acknowledged: exactly 1000 lines, in order, on
// the same attempt.
func TestConnectionDropMidJobLosesNothing(t *testing.T) {
	cp := newControlPlane(t)
	fifo := t.TempDir() + "/gate"
	d := &flakyDialer{inner: cp.Dialer("t")}
	startAgent(t, cp, d, 1)
	v, err := cp.Submit(scheduler.SubmitRequest{Pipeline: fmt.Sprintf(`
steps:
  - key: lines
    command: 'for i in $(seq 1 500); do echo "line $i"; done; mkfifo %[1]s; cat %[1]s; for i in $(seq 501 1000); do echo "line $i"; done'
`, fifo)})
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the first half to be printed and the step to block on the fifo.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(fifo); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the step never reached the middle")
		}
		time.Sleep(10 * time.Millisecond)
	}
	d.cut()
	// Release the step: it prints the second half while, or after, the
	// agent reconnects.
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	got := waitRun(t, cp, v.ID)
	if got.State != scheduler.RunPassed || got.Jobs[0].Attempt != 1 {
		t.Fatalf("run: got %s attempt %d, want passed on attempt 1", got.State, got.Jobs[0].Attempt)
	}
	data, _, _, err := cp.Log(v.ID, "lines", 0)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 1; i <= 1000; i++ {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if !strings.HasSuffix(string(data), want.String()) || strings.Count(string(data), "line 1\n") != 1 {
		t.Fatalf("log: got %d bytes, want the 1000 lines exactly once in order:\n%s", len(data), data)
	}
	if n := d.count(); n < 2 {
		t.Fatalf("dialled %d times, want a reconnect", n)
	}
}

// Cancelling a run stops the running step's whole process group.
func TestCancelStopsRunningStep(t *testing.T) {
	cp := newControlPlane(t)
	startAgent(t, cp, cp.Dialer("t"), 1)
	marker := t.TempDir() + "/started"
	v, err := cp.Submit(scheduler.SubmitRequest{Pipeline: fmt.Sprintf("steps:\n  - key: long\n    command: 'touch %s; sleep 900 & sleep 900'\n", marker)})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("step never started")
		}
		time.Sleep(10 * time.Millisecond)
	}
	start := time.Now()
	if err := cp.Cancel(v.ID); err != nil {
		t.Fatal(err)
	}
	got := waitRun(t, cp, v.ID)
	if got.State != scheduler.RunCancelled || got.Jobs[0].State != scheduler.StateCancelled {
		t.Fatalf("got run %s job %s, want cancelled", got.State, got.Jobs[0].State)
	}
	if took := time.Since(start); took > 15*time.Second {
		t.Fatalf("cancel took %s", took)
	}
}

// Two slots run two independent steps at the same time.
func TestSlotsRunInParallel(t *testing.T) {
	cp := newControlPlane(t)
	startAgent(t, cp, cp.Dialer("t"), 2)
	dir := t.TempDir()
	v, err := cp.Submit(scheduler.SubmitRequest{Pipeline: fmt.Sprintf(`
steps:
  - {key: a, command: 'touch %[1]s/a; for i in $(seq 100); do [ -e %[1]s/b ] && exit 0; sleep 0.1; done; exit 1'}
  - {key: b, command: 'touch %[1]s/b; for i in $(seq 100); do [ -e %[1]s/a ] && exit 0; sleep 0.1; done; exit 1'}
`, dir)})
	if err != nil {
		t.Fatal(err)
	}
	if got := waitRun(t, cp, v.ID); got.State != scheduler.RunPassed {
		t.Fatalf("run: got %s (%+v), want both steps to overlap and pass", got.State, got.Jobs)
	}
}
