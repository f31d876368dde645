package scheduler

import (
	"reflect"
	"testing"

	"github.com/airlockci/airlock/internal/wire"
)

// FuzzMessage: whatever an agent sends, the scheduler does not panic, and a
// frame from a connection that has not said hello changes no run.
func FuzzMessage(f *testing.F) {
	for _, fr := range []wire.Frame{
		{Type: wire.THello, Hello: &wire.Hello{Name: "a", Slots: 1}},
		{Type: wire.TLog, Log: &wire.Log{JobRef: wire.JobRef{ID: "j", Attempt: 1}, Seq: 1, Data: []byte("x")}},
		{Type: wire.TFinished, Finished: &wire.Finished{JobRef: wire.JobRef{ID: "j", Attempt: 1}}},
		{Type: wire.TAccept, Accept: &wire.JobRef{ID: "j", Attempt: 1}},
	} {
		b, _ := wire.Encode(fr)
		f.Add(b)
	}
	f.Add([]byte{0xff})
	w := newWorld(f)
	v := w.submit(diamond)
	good := w.agent("good", 1, nil)
	w.assigned(good)
	before := w.run(v.ID)
	f.Fuzz(func(t *testing.T, data []byte) {
		conn, err := w.s.Connect(Identity{Kind: "test", Subject: "fuzz"})
		if err != nil {
			t.Fatal(err)
		}
		w.sock.open[conn] = true
		if _, err := w.s.Message(conn, data); err != nil {
			t.Fatalf("message: %v", err)
		}
		fr, derr := wire.Decode(data)
		if derr == nil && fr.Type == wire.THello {
			return // a valid hello may legitimately be followed by dispatch
		}
		got, _, err := w.s.Run(v.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, before) {
			t.Fatalf("a frame before hello changed the run")
		}
		delete(w.sock.open, conn)
		_ = w.s.Closed(conn)
	})
}
