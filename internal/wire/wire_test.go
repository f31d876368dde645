package wire

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/fxamacker/cbor/v2"
)

func TestRoundTrip(t *testing.T) {
	frames := []Frame{
		{Type: THello, Hello: &Hello{Name: "a", Version: "1", Tags: map[string]string{"queue": "default"}, Slots: 2, Running: []JobRef{{ID: "j", Attempt: 1}}}},
		{Type: TWelcome, Welcome: &Welcome{AgentID: "a_1", HeartbeatSeconds: 20}},
		{Type: TAssign, Assign: &Job{JobRef: JobRef{ID: "j", Attempt: 2}, RunID: "r", Key: "k", Commands: []string{"make"},
			Env: []EnvVar{{Name: "X", Value: "1.10"}}, Plugin: &Plugin{Module: "m.wasm", Config: []byte(`{"a":1}`)}}},
		{Type: TAccept, Accept: &JobRef{ID: "j", Attempt: 1}},
		{Type: TLog, Log: &Log{JobRef: JobRef{ID: "j", Attempt: 1}, Seq: 1, Data: []byte("hello\n")}},
		{Type: TLogAck, LogAck: &LogAck{JobRef: JobRef{ID: "j", Attempt: 1}, Seq: 1}},
		{Type: TFinished, Finished: &Finished{JobRef: JobRef{ID: "j", Attempt: 1}, ExitStatus: -1, Reason: "timed out", LastSeq: 3}},
		{Type: TFinishedAck, FinishedAck: &JobRef{ID: "j", Attempt: 1}},
		{Type: THeartbeat, Heartbeat: &Heartbeat{SentMS: 5}},
		{Type: TCancel, Cancel: &JobRef{ID: "j", Attempt: 1}},
		{Type: TError, Error: &ErrorReason{Message: "no"}},
		{Type: TChallenge, Challenge: &Challenge{Challenge: "ach_1", DeadlineMS: 9}},
		{Type: TProof, Proof: &Proof{Proof: "eyJ9"}},
	}
	for _, f := range frames {
		b, err := Encode(f)
		if err != nil {
			t.Fatalf("encode %s: %v", f.Type, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("decode %s: %v", f.Type, err)
		}
		f.V = Version
		if !reflect.DeepEqual(got, f) {
			t.Errorf("%s: got %+v, want %+v", f.Type, got, f)
		}
	}
}

func raw(t *testing.T, v any) []byte {
	b, err := cbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeRefuses(t *testing.T) {
	deep := any("x")
	for i := 0; i < 20; i++ {
		deep = []any{deep}
	}
	for _, tc := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "EOF"},
		{"garbage", []byte{0xff, 0x00}, "cbor"},
		{"not a map", raw(t, []int{1, 2}), "cannot unmarshal"},
		{"wrong version", raw(t, map[string]any{"v": 99, "t": "heartbeat", "heartbeat": map[string]any{"sent_ms": 1}}), "protocol version 99"},
		{"unknown type", raw(t, map[string]any{"v": Version, "t": "launch", "heartbeat": map[string]any{}}), `unknown frame type "launch"`},
		{"no body", raw(t, map[string]any{"v": Version, "t": "heartbeat"}), "carries 0 bodies"},
		{"two bodies", raw(t, map[string]any{"v": Version, "t": "heartbeat", "heartbeat": map[string]any{}, "cancel": map[string]any{"id": "j"}}), "carries 2 bodies"},
		{"body of another type", raw(t, map[string]any{"v": Version, "t": "heartbeat", "cancel": map[string]any{"id": "j"}}), "body of another type"},
		{"unknown field", raw(t, map[string]any{"v": Version, "t": "heartbeat", "heartbeat": map[string]any{}, "extra": 1}), "unknown field"},
		{"too deep", raw(t, map[string]any{"v": Version, "t": "heartbeat", "heartbeat": map[string]any{}, "x": deep}), "exceeded max nested level"},
		{"too many items", raw(t, map[string]any{"v": Version, "t": "hello", "hello": map[string]any{"name": "a", "tags": bigMap(5000)}}), "exceeded max number of key-value pairs"},
		{"log too big", raw(t, map[string]any{"v": Version, "t": "log", "log": map[string]any{"id": "j", "attempt": 1, "seq": 1, "data": make([]byte, MaxLogChunk+1)}}), "log chunk of"},
		{"log seq zero", raw(t, map[string]any{"v": Version, "t": "log", "log": map[string]any{"id": "j", "attempt": 1, "seq": 0, "data": []byte("x")}}), "sequence 0"},
		{"duplicate key", []byte{0xa2, 0x61, 'v', 0x01, 0x61, 'v', 0x01}, "duplicate"},
		{"oversized", make([]byte, MaxFrameSize+1), "frame too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := Decode(make([]byte, MaxFrameSize+1)); !errors.Is(err, ErrFrameTooLarge) {
		t.Errorf("oversized: got %v, want ErrFrameTooLarge", err)
	}
}

func bigMap(n int) map[string]string {
	m := make(map[string]string, n)
	for i := 0; i < n; i++ {
		m[string(rune('a'+i%26))+strings.Repeat("x", i/26)] = "v"
	}
	return m
}

func TestEncodeRefusesOversized(t *testing.T) {
	_, err := Encode(Frame{Type: TAssign, Assign: &Job{Commands: []string{strings.Repeat("x", MaxFrameSize)}}})
	if !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("got %v, want ErrFrameTooLarge", err)
	}
}

// FuzzDecode: no input panics, and whatever decodes re-encodes to a frame
// that decodes to the same value.
func FuzzDecode(f *testing.F) {
	for _, fr := range []Frame{
		{Type: THello, Hello: &Hello{Name: "a", Slots: 1, Tags: map[string]string{"q": "d"}}},
		{Type: TLog, Log: &Log{JobRef: JobRef{ID: "j", Attempt: 1}, Seq: 1, Data: []byte("x")}},
		{Type: TFinished, Finished: &Finished{JobRef: JobRef{ID: "j", Attempt: 1}}},
	} {
		b, _ := Encode(fr)
		f.Add(b)
	}
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		fr, err := Decode(data)
		if err != nil {
			return
		}
		b, err := Encode(fr)
		if err != nil {
			t.Fatalf("decoded frame does not encode: %v", err)
		}
		again, err := Decode(b)
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		b2, _ := Encode(again)
		if !bytes.Equal(b, b2) {
			t.Fatalf("encoding is not stable")
		}
	})
}
