package sqlcol_test

import (
	"bytes"
	"testing"

	"github.com/airlockci/airlock/edge/internal/sqlcol"
)

func TestRead(t *testing.T) {
	for _, tc := range []struct {
		v    any
		i    int64
		s    string
		blob []byte
	}{
		{int64(7), 7, "", nil},
		{float64(7), 7, "", nil}, // the Durable Object's numbers
		{7, 7, "", nil},
		{"x", 0, "x", []byte("x")},
		{[]byte("x"), 0, "x", []byte("x")},
		{nil, 0, "", nil},
	} {
		if got := sqlcol.Int(tc.v); got != tc.i {
			t.Errorf("Int(%#v): got %d, want %d", tc.v, got, tc.i)
		}
		if got := sqlcol.String(tc.v); got != tc.s {
			t.Errorf("String(%#v): got %q, want %q", tc.v, got, tc.s)
		}
		if got := sqlcol.Bytes(tc.v); !bytes.Equal(got, tc.blob) {
			t.Errorf("Bytes(%#v): got %q, want %q", tc.v, got, tc.blob)
		}
	}
}
