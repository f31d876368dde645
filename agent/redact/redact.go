package redact

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
)

// Secret is a value to mask and the name a mask shows in its place: the
// environment variable or the reference it came from, never anything
// derived from the value.
type Secret struct {
	Name  string
	Value string
}

// Options tunes what is masked. The zero value means the defaults.
type Options struct {
	// MinLength is the shortest value that is masked, in bytes (after
	// trailing newlines are dropped); shorter ones get a Warning instead.
	// Default 6.
	MinLength int
	// MinLineLength is the fewest non-space bytes a line of a multi-line
	// value must have to be masked on its own. Default 6.
	MinLineLength int
}

// Default values of Options.
const (
	DefaultMinLength     = 6
	DefaultMinLineLength = 6
)

// Warning says that a secret, or part of it, is not masked, and why. It
// names the secret and never contains its value.
type Warning struct {
	Name   string
	Reason string
}

func (w Warning) String() string { return fmt.Sprintf("secret %s: %s", w.Name, w.Reason) }

// ErrClosed is returned by a Write after Close.
var ErrClosed = errors.New("redact: write after close")

// Redactor masks a fixed set of secrets. It is immutable: String and Writer
// may be called from any number of goroutines. A nil *Redactor masks
// nothing.
type Redactor struct {
	m        *machine
	masks    [][]byte // "[REDACTED:NAME]" by name index
	patterns int
}

// New builds a Redactor for secrets. Secrets that are not (fully) masked
// come back as warnings, which the caller should show to the pipeline's
// author (they name secrets, so they may go to the control plane).
func New(secrets []Secret, opts Options) (*Redactor, []Warning) {
	if opts.MinLength <= 0 {
		opts.MinLength = DefaultMinLength
	}
	if opts.MinLineLength <= 0 {
		opts.MinLineLength = DefaultMinLineLength
	}
	r := &Redactor{}
	var warnings []Warning
	var pats []pattern
	for _, s := range secrets {
		f, warning := forms(s.Value, opts)
		if warning != "" {
			warnings = append(warnings, Warning{Name: s.Name, Reason: warning})
		}
		if len(f) == 0 {
			continue
		}
		name := int32(len(r.masks))
		r.masks = append(r.masks, []byte("[REDACTED:"+cleanName(s.Name)+"]"))
		for _, p := range f {
			pats = append(pats, pattern{s: p, name: name})
		}
	}
	// A form shared by two secrets is named by the first of them.
	r.m = compile(pats)
	r.patterns = len(pats)
	return r, warnings
}

// cleanName keeps a name from breaking out of its brackets or the log line.
func cleanName(name string) string {
	if name == "" {
		return "secret"
	}
	return strings.Map(func(r rune) rune {
		if r == ']' || r == '[' || r < 0x20 || r == 0x7f {
			return '_'
		}
		return r
	}, name)
}

// String returns s with every secret masked.
func (r *Redactor) String(s string) string {
	if r == nil || r.patterns == 0 {
		return s
	}
	st := stream{m: r.m, masks: r.masks}
	p := []byte(s)
	st.feed(p)
	return string(st.flush(make([]byte, 0, len(s)), p, true))
}

// Writer returns a writer that masks what it is given and writes the rest
// to w. Close writes out what it holds back; it does not close w.
//
// Write and Close may be called from several goroutines; each Write is
// masked and passed to w whole, in the order the calls take the writer's
// lock. w sees one Write at a time. After an error from w, every call
// returns that error; after Close, Write returns ErrClosed and drops its
// input.
func (r *Redactor) Writer(w io.Writer) io.WriteCloser {
	if r == nil || r.patterns == 0 {
		return &passWriter{w: w}
	}
	return &writer{w: w, s: stream{m: r.m, masks: r.masks}}
}

type writer struct {
	mu     sync.Mutex
	w      io.Writer
	s      stream
	out    []byte
	err    error
	closed bool
}

func (w *writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, ErrClosed
	}
	w.s.feed(p)
	if err := w.emit(p, false); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (w *writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.err != nil {
		return w.err
	}
	w.closed = true
	return w.emit(nil, true)
}

func (w *writer) emit(p []byte, end bool) error {
	w.out = w.s.flush(w.out[:0], p, end)
	if len(w.out) == 0 {
		return nil
	}
	if _, err := w.w.Write(w.out); err != nil {
		w.err = err
		return err
	}
	return nil
}

// passWriter is the Writer of a Redactor with nothing to mask; it keeps
// the same contract.
type passWriter struct {
	mu     sync.Mutex
	w      io.Writer
	err    error
	closed bool
}

func (w *passWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil {
		return 0, w.err
	}
	if w.closed {
		return 0, ErrClosed
	}
	if len(p) == 0 {
		return 0, nil
	}
	if _, err := w.w.Write(p); err != nil {
		w.err = err
		return 0, err
	}
	return len(p), nil
}

func (w *passWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	return w.err
}
