//go:build js && wasm

// Package jsdo binds the scheduler's interfaces to a Durable Object's
// JavaScript API: SQLite storage, hibernatable WebSockets and alarms. It is
// the only place in the edge that touches syscall/js besides main.
//
// A JavaScript exception inside a call is a Go panic in syscall/js; every
// method here recovers it and returns it as an error.
package jsdo

import (
	"errors"
	"fmt"
	"syscall/js"
	"time"
)

// jsErr turns a recovered JavaScript exception into an error.
func jsErr(r any) error {
	if e, ok := r.(js.Error); ok {
		return errors.New(e.Value.Get("message").String())
	}
	if e, ok := r.(error); ok {
		return e
	}
	return fmt.Errorf("%v", r)
}

// SQL is ctx.storage.sql plus the shim's transaction helper.
type SQL struct {
	sql js.Value
	// tx runs a callback in ctx.storage.transactionSync and returns the
	// callback's non-undefined return value (after rolling back) or undefined.
	tx js.Value
}

// NewSQL binds storage (ctx.storage) and the shim's tx helper.
func NewSQL(storage, tx js.Value) (*SQL, error) {
	sql := storage.Get("sql")
	if sql.IsUndefined() {
		return nil, errors.New("jsdo: ctx.storage.sql is missing: the Durable Object class must be declared in new_sqlite_classes")
	}
	return &SQL{sql: sql, tx: tx}, nil
}

var uint8Array = js.Global().Get("Uint8Array")

func toJS(v any) any {
	switch x := v.(type) {
	case nil:
		return js.Null()
	case string:
		return x
	case int:
		return float64(x)
	case int64:
		return float64(x)
	case float64:
		return x
	case bool:
		if x {
			return 1.0
		}
		return 0.0
	case []byte:
		a := uint8Array.New(len(x))
		js.CopyBytesToJS(a, x)
		return a.Get("buffer")
	}
	panic(fmt.Sprintf("jsdo: cannot bind %T", v))
}

func fromJS(v js.Value) any {
	switch v.Type() {
	case js.TypeNull, js.TypeUndefined:
		return nil
	case js.TypeString:
		return v.String()
	case js.TypeNumber:
		f := v.Float()
		if f == float64(int64(f)) {
			return int64(f)
		}
		return f
	case js.TypeObject:
		a := uint8Array.New(v)
		b := make([]byte, a.Get("length").Int())
		js.CopyBytesToGo(b, a)
		return b
	}
	return nil
}

// Exec runs one statement and returns its rows.
func (s *SQL) Exec(query string, args ...any) (rows [][]any, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = jsErr(r)
		}
	}()
	jsArgs := make([]any, 0, len(args)+1)
	jsArgs = append(jsArgs, query)
	for _, a := range args {
		jsArgs = append(jsArgs, toJS(a))
	}
	raw := s.sql.Call("exec", jsArgs...).Call("raw").Call("toArray")
	n := raw.Length()
	rows = make([][]any, n)
	for i := 0; i < n; i++ {
		r := raw.Index(i)
		row := make([]any, r.Length())
		for c := range row {
			row[c] = fromJS(r.Index(c))
		}
		rows[i] = row
	}
	return rows, nil
}

// Transaction runs fn in ctx.storage.transactionSync; an error or panic from
// fn rolls everything back, and a panic is re-raised after the rollback.
func (s *SQL) Transaction(fn func() error) (err error) {
	var fnErr error
	var fnPanic any
	cb := js.FuncOf(func(this js.Value, args []js.Value) (ret any) {
		defer func() {
			if r := recover(); r != nil {
				fnPanic = r
				ret = "rollback"
			}
		}()
		if fnErr = fn(); fnErr != nil {
			return "rollback"
		}
		return nil
	})
	defer cb.Release()
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("transaction: %w", jsErr(r))
			}
		}()
		s.tx.Invoke(cb)
	}()
	if fnPanic != nil {
		panic(fnPanic)
	}
	if fnErr != nil {
		return fnErr
	}
	return err
}

// Sockets are the Durable Object's hibernatable WebSockets, each accepted
// with its connection ID as its only tag.
type Sockets struct{ ctx js.Value }

// NewSockets binds the Durable Object state ctx.
func NewSockets(ctx js.Value) *Sockets { return &Sockets{ctx: ctx} }

// Send sends one binary message on conn.
func (s *Sockets) Send(conn string, frame []byte) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = jsErr(r)
		}
	}()
	list := s.ctx.Call("getWebSockets", conn)
	if list.Length() == 0 {
		return nil
	}
	a := uint8Array.New(len(frame))
	js.CopyBytesToJS(a, frame)
	list.Index(0).Call("send", a)
	return nil
}

// Close closes conn with a code and reason.
func (s *Sockets) Close(conn string, code int, reason string) {
	defer func() { _ = recover() }()
	list := s.ctx.Call("getWebSockets", conn)
	for i := 0; i < list.Length(); i++ {
		list.Index(i).Call("close", code, reason)
	}
}

// Open lists the open connections' IDs.
func (s *Sockets) Open() (conns []string) {
	defer func() { _ = recover() }()
	list := s.ctx.Call("getWebSockets")
	for i := 0; i < list.Length(); i++ {
		tags := s.ctx.Call("getTags", list.Index(i))
		if tags.Length() > 0 {
			conns = append(conns, tags.Index(0).String())
		}
	}
	return conns
}

// Alarm is ctx.storage's alarm.
type Alarm struct {
	storage js.Value
}

// NewAlarm binds ctx.storage.
func NewAlarm(storage js.Value) *Alarm { return &Alarm{storage: storage} }

// Set schedules the alarm, replacing any earlier one.
func (a *Alarm) Set(at time.Time) {
	defer func() { _ = recover() }()
	a.storage.Call("setAlarm", float64(at.UnixMilli()))
}
