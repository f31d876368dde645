package scheduler

import (
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/airlockci/airlock/internal/wire"
)

// event is the work of one Durable Object event. Its database writes happen in
// one transaction; frames to send, sockets to close and the next alarm are
// collected and carried out only after the transaction committed, so an agent
// never hears of a state the database does not hold.
type event struct {
	s      *Scheduler
	sends  []outFrame
	closes []outClose
	rearm  bool
}

type outFrame struct {
	conn  string
	frame []byte
}

type outClose struct {
	conn   string
	code   int
	reason string
}

// errInternal is what a client sees of a failure that is not its fault; the
// error's ID is in the log next to the cause.
type errInternal struct{ id string }

func (e errInternal) Error() string { return "internal error " + e.id }

// run executes fn as one event. A panic (a storage failure, a bug) rolls the
// transaction back and becomes an errInternal carrying an ID that is logged
// with the cause.
func (s *Scheduler) run(fn func(ev *event) error) (err error) {
	ev := &event{s: s}
	defer func() {
		if r := recover(); r != nil {
			id := newID("err_")
			s.cfg.Log("%s: panic: %v\n%s", id, r, debug.Stack())
			err = errInternal{id}
		}
	}()
	txErr := s.db.Transaction(func() error { return fn(ev) })
	if txErr != nil {
		var se storageError
		if errors.As(txErr, &se) {
			id := newID("err_")
			s.cfg.Log("%s: %v", id, txErr)
			return errInternal{id}
		}
		return txErr
	}
	ev.flush()
	return nil
}

// view runs a read-only fn without a transaction (a Durable Object event
// sees a consistent database anyway); failures are handled as in run.
func (s *Scheduler) view(fn func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			id := newID("err_")
			s.cfg.Log("%s: panic: %v\n%s", id, r, debug.Stack())
			err = errInternal{id}
		}
	}()
	return fn()
}

func (ev *event) flush() {
	s := ev.s
	for _, f := range ev.sends {
		if err := s.sockets.Send(f.conn, f.frame); err != nil {
			s.cfg.Log("send to %s: %v", f.conn, err)
		}
	}
	for _, c := range ev.closes {
		s.sockets.Close(c.conn, c.code, c.reason)
	}
	if ev.rearm {
		s.rearm()
	}
}

func (ev *event) send(conn string, frame []byte) {
	ev.sends = append(ev.sends, outFrame{conn, frame})
}

func (ev *event) close(conn string, code int, reason string) {
	ev.closes = append(ev.closes, outClose{conn, code, reason})
}

// rearm makes sure the alarm fires by the earliest lease expiry or agent
// heartbeat deadline. Setting the alarm is a storage write, so it is set
// only when the deadline is earlier than the alarm already set (or none is
// known to be set): an alarm that fires early finds nothing expired and
// re-arms itself.
func (s *Scheduler) rearm() {
	rows, err := s.db.Exec(`SELECT MIN(t) FROM (
		SELECT MIN(lease_ms) AS t FROM jobs WHERE state IN ('assigned','running')
		UNION ALL SELECT MIN(last_seen_ms) + ? FROM agents WHERE connected = 1
		UNION ALL SELECT MIN(next_ms) FROM conns WHERE next_ms > 0)`, wire.LeaseTimeout.Milliseconds())
	if err != nil || len(rows) == 0 || rows[0][0] == nil {
		return
	}
	at := msTime(asInt(rows[0][0]))
	if !s.alarmAt.IsZero() && !at.Before(s.alarmAt) && s.alarmAt.After(s.now()) {
		return
	}
	s.alarm.Set(at)
	s.alarmAt = at
}

// HTTPError is an error with the HTTP status it maps to.
type HTTPError struct {
	Status  int
	Message string
	// Details are structured problems, such as pipeline errors with positions.
	Details any
	// Allow lists the methods a 405 answer allows.
	Allow string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("%d: %s", e.Status, e.Message) }
