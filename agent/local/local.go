// Package local runs Airlock's real scheduler in-process, on an embedded
// SQLite, with agents connected through in-memory pipes instead of
// WebSockets. `airlock run --local` uses it so that a pipeline tried on a
// laptop is scheduled by exactly the code that schedules it at the edge.
package local

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/airlockci/airlock/agent"
	"github.com/airlockci/airlock/edge/scheduler"
	"github.com/airlockci/airlock/internal/sqlitedb"
)

// ControlPlane is an in-process control plane. Its methods are safe for
// concurrent use: every scheduler event runs under one lock, as the Durable
// Object delivers one event at a time.
type ControlPlane struct {
	mu    sync.Mutex
	db    *sqlitedb.DB
	sched *scheduler.Scheduler
	conns map[string]*pipe
	timer *time.Timer
	done  bool
}

// New starts a control plane on an in-memory database.
func New(logf func(string, ...any)) (*ControlPlane, error) {
	db, err := sqlitedb.Open(":memory:")
	if err != nil {
		return nil, err
	}
	cp := &ControlPlane{db: db, conns: map[string]*pipe{}}
	cp.sched, err = scheduler.New(db, (*sockets)(cp), (*alarm)(cp), time.Now, scheduler.Config{Log: logf})
	if err != nil {
		db.Close()
		return nil, err
	}
	return cp, nil
}

// Close stops the alarm and closes the database.
func (cp *ControlPlane) Close() error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	cp.done = true
	if cp.timer != nil {
		cp.timer.Stop()
	}
	for _, p := range cp.conns {
		p.closeRead()
	}
	return cp.db.Close()
}

// Submit submits a run.
func (cp *ControlPlane) Submit(req scheduler.SubmitRequest) (scheduler.RunView, error) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.sched.Submit(req)
}

// Run returns a run.
func (cp *ControlPlane) Run(id string) (scheduler.RunView, error) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	v, _, err := cp.sched.Run(id)
	return v, err
}

// Log returns log chunks after a sequence number; see scheduler.Log.
func (cp *ControlPlane) Log(runID, key string, after int64) ([]byte, int64, bool, error) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.sched.Log(runID, key, 0, after)
}

// Cancel cancels a run.
func (cp *ControlPlane) Cancel(runID string) error {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	return cp.sched.Cancel(runID, "")
}

// Dialer connects an agent under a development identity.
func (cp *ControlPlane) Dialer(name string) agent.Dialer { return &dialer{cp: cp, name: name} }

type dialer struct {
	cp   *ControlPlane
	name string
}

func (d *dialer) Dial(ctx context.Context) (agent.Conn, error) {
	cp := d.cp
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if cp.done {
		return nil, &agent.FatalError{Err: errors.New("local control plane closed")}
	}
	// In-process, the agent is this very program: there is nothing to prove.
	conn, err := cp.sched.Connect(scheduler.Identity{Kind: "local", Subject: d.name, Pool: "local"})
	if err != nil {
		return nil, err
	}
	p := &pipe{cp: cp, conn: conn, ready: make(chan struct{}, 1)}
	cp.conns[conn] = p
	return p, nil
}

// pipe is one in-memory agent connection. Frames to the agent queue without
// bound (the scheduler must never block on an agent); frames from the agent
// are handed to the scheduler synchronously.
type pipe struct {
	cp    *ControlPlane
	conn  string
	qmu   sync.Mutex
	queue [][]byte
	shut  bool
	ready chan struct{}
}

func (p *pipe) push(b []byte) {
	p.qmu.Lock()
	if !p.shut {
		p.queue = append(p.queue, b)
	}
	p.qmu.Unlock()
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

func (p *pipe) closeRead() {
	p.qmu.Lock()
	p.shut = true
	p.qmu.Unlock()
	select {
	case p.ready <- struct{}{}:
	default:
	}
}

func (p *pipe) Read(ctx context.Context) ([]byte, error) {
	for {
		p.qmu.Lock()
		if len(p.queue) > 0 {
			b := p.queue[0]
			p.queue = p.queue[1:]
			p.qmu.Unlock()
			return b, nil
		}
		shut := p.shut
		p.qmu.Unlock()
		if shut {
			return nil, errors.New("connection closed")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-p.ready:
		}
	}
}

func (p *pipe) Write(b []byte) error {
	p.qmu.Lock()
	shut := p.shut
	p.qmu.Unlock()
	if shut {
		return errors.New("connection closed")
	}
	cp := p.cp
	cp.mu.Lock()
	defer cp.mu.Unlock()
	_, err := cp.sched.Message(p.conn, append([]byte(nil), b...))
	return err
}

func (p *pipe) Close() error {
	p.closeRead()
	cp := p.cp
	cp.mu.Lock()
	defer cp.mu.Unlock()
	if _, ok := cp.conns[p.conn]; !ok || cp.done {
		return nil
	}
	delete(cp.conns, p.conn)
	return cp.sched.Closed(p.conn)
}

// sockets and alarm are the scheduler's view of the control plane; they
// are called with cp.mu held.
type sockets ControlPlane

func (s *sockets) Send(conn string, frame []byte) error {
	if p := s.conns[conn]; p != nil {
		p.push(frame)
	}
	return nil
}

func (s *sockets) Close(conn string, code int, reason string) {
	if p := s.conns[conn]; p != nil {
		p.closeRead()
	}
}

func (s *sockets) Open() []string {
	var out []string
	for c := range s.conns {
		out = append(out, c)
	}
	return out
}

type alarm ControlPlane

func (a *alarm) Set(at time.Time) {
	cp := (*ControlPlane)(a)
	if cp.timer != nil {
		cp.timer.Stop()
	}
	cp.timer = time.AfterFunc(time.Until(at), func() {
		cp.mu.Lock()
		defer cp.mu.Unlock()
		if !cp.done {
			_ = cp.sched.Alarm()
		}
	})
}
