package scheduler

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/airlockci/airlock/internal/sqlitedb"
	"github.com/airlockci/airlock/internal/wire"
)

func openDB(t testing.TB) *sqlitedb.DB {
	t.Helper()
	db, err := sqlitedb.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// sockets records what the scheduler sends and closes.
type sockets struct {
	open   map[string]bool
	frames map[string][]wire.Frame
	closed map[string]string
}

func newSockets() *sockets {
	return &sockets{open: map[string]bool{}, frames: map[string][]wire.Frame{}, closed: map[string]string{}}
}

func (s *sockets) Send(conn string, b []byte) error {
	if !s.open[conn] {
		return nil
	}
	f, err := wire.Decode(b)
	if err != nil {
		return fmt.Errorf("scheduler sent an undecodable frame: %w", err)
	}
	s.frames[conn] = append(s.frames[conn], f)
	return nil
}

func (s *sockets) Close(conn string, code int, reason string) {
	if s.open[conn] {
		s.closed[conn] = fmt.Sprintf("%d %s", code, reason)
		delete(s.open, conn)
	}
}

func (s *sockets) Open() []string {
	var out []string
	for c := range s.open {
		out = append(out, c)
	}
	sort.Strings(out)
	return out
}

// take returns and forgets the frames sent to conn.
func (s *sockets) take(conn string) []wire.Frame {
	f := s.frames[conn]
	delete(s.frames, conn)
	return f
}

type alarm struct{ at time.Time }

func (a *alarm) Set(t time.Time) { a.at = t }

// world is a scheduler on a real SQLite with recorded sockets and a clock
// the test moves.
type world struct {
	t     testing.TB
	db    *sqlitedb.DB
	sock  *sockets
	alarm *alarm
	clock time.Time
	s     *Scheduler
}

func newWorld(t testing.TB) *world {
	t.Helper()
	w := &world{t: t, db: openDB(t), sock: newSockets(), alarm: &alarm{}, clock: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)}
	w.boot()
	return w
}

// boot starts a fresh Scheduler on the same database, as a Durable Object
// does after eviction or restart.
func (w *world) boot() {
	s, err := New(w.db, w.sock, w.alarm, func() time.Time { return w.clock }, Config{Log: func(f string, a ...any) { w.t.Logf(f, a...) }})
	if err != nil {
		w.t.Fatal(err)
	}
	w.s = s
}

func (w *world) submit(yaml string) RunView {
	w.t.Helper()
	v, err := w.s.Submit(SubmitRequest{Pipeline: yaml, Filename: "p.yml", Repository: "/repo", Commit: "abc"})
	if err != nil {
		w.t.Fatalf("submit: %v", err)
	}
	return v
}

func (w *world) run(id string) RunView {
	w.t.Helper()
	v, _, err := w.s.Run(id)
	if err != nil {
		w.t.Fatal(err)
	}
	return v
}

// agent connects a dev agent and says hello.
func (w *world) agent(name string, slots int, tags map[string]string, running ...wire.JobRef) string {
	w.t.Helper()
	conn, err := w.s.Connect(Identity{Kind: "test", Subject: name, Pool: "default"})
	if err != nil {
		w.t.Fatal(err)
	}
	w.sock.open[conn] = true
	w.send(conn, wire.Frame{Type: wire.THello, Hello: &wire.Hello{Name: name, Version: "test", Tags: tags, Slots: slots, Running: running}})
	return conn
}

func (w *world) send(conn string, f wire.Frame) {
	w.t.Helper()
	b, err := wire.Encode(f)
	if err != nil {
		w.t.Fatal(err)
	}
	if _, err := w.s.Message(conn, b); err != nil {
		w.t.Fatalf("message: %v", err)
	}
}

// assigned returns the jobs assigned to conn since the last call.
func (w *world) assigned(conn string) []*wire.Job {
	var jobs []*wire.Job
	for _, f := range w.sock.take(conn) {
		if f.Type == wire.TAssign {
			jobs = append(jobs, f.Assign)
		}
	}
	return jobs
}

// finish runs a job on conn to completion with the given exit status.
func (w *world) finish(conn string, j *wire.Job, exit int, log string) {
	w.send(conn, wire.Frame{Type: wire.TAccept, Accept: &j.JobRef})
	var last int64
	if log != "" {
		last = 1
		w.send(conn, wire.Frame{Type: wire.TLog, Log: &wire.Log{JobRef: j.JobRef, Seq: 1, Data: []byte(log)}})
	}
	w.send(conn, wire.Frame{Type: wire.TFinished, Finished: &wire.Finished{JobRef: j.JobRef, ExitStatus: exit, LastSeq: last}})
}

func states(v RunView) map[string]string {
	m := map[string]string{}
	for _, j := range v.Jobs {
		m[j.Key] = j.State
	}
	return m
}

func keys(jobs []*wire.Job) []string {
	var out []string
	for _, j := range jobs {
		out = append(out, j.Key)
	}
	sort.Strings(out)
	return out
}
