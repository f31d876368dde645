package runner

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// syncBuffer is a log that tests may read while a step writes to it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

type runResult struct {
	res Result
	err error
}

// startStreaming runs step in the background with a pipe as its log. It
// returns once the first line has arrived, with that line, the process
// group ID that the step printed as "pgid N" on that line, and a channel
// for the result. The rest of the log is collected into rest, complete when
// the result arrives.
func startStreaming(t *testing.T, ctx context.Context, s *Shell, step Step) (pgid int, done <-chan runResult, rest *syncBuffer) {
	t.Helper()
	pr, pw := io.Pipe()
	ch := make(chan runResult, 1)
	go func() {
		res, err := s.Run(ctx, step, pw)
		pw.Close()
		ch <- runResult{res, err}
	}()
	br := bufio.NewReader(pr)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading first line: %v", err)
	}
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "pgid" {
		t.Fatalf("first line = %q, want \"pgid N\"", line)
	}
	pgid, err = strconv.Atoi(f[1])
	if err != nil {
		t.Fatalf("first line %q: %v", line, err)
	}
	// done delivers the result only once the whole log has been collected.
	rest = &syncBuffer{}
	copied := make(chan struct{})
	go func() {
		io.Copy(rest, br)
		close(copied)
	}()
	out := make(chan runResult, 1)
	go func() {
		r := <-ch
		<-copied
		out <- r
	}()
	return pgid, out, rest
}

// assertGroupGone fails unless no live process is left in group pgid.
func assertGroupGone(t *testing.T, pgid int) {
	t.Helper()
	if groupAlive(pgid) {
		t.Errorf("process group %d still has live processes after Run returned", pgid)
		syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

func TestShellTimeoutKillsBackgroundChildren(t *testing.T) {
	s := &Shell{Grace: 500 * time.Millisecond}
	step := Step{
		Dir: t.TempDir(),
		// The background sleeps hold the output pipe open: Run must not
		// wait for them to close it.
		Commands: []string{`echo pgid $$`, `sh -c 'sleep 900 & sleep 900'`},
		Timeout:  2 * time.Second,
	}
	start := time.Now()
	pgid, done, _ := startStreaming(t, context.Background(), s, step)
	r := <-done
	elapsed := time.Since(start)
	if r.err != nil {
		t.Fatalf("Run error: %v", r.err)
	}
	if r.res.ExitStatus != -1 || r.res.Reason != ReasonTimedOut {
		t.Errorf("got %+v, want exit -1 reason %q", r.res, ReasonTimedOut)
	}
	if max := step.Timeout + s.Grace + 2*time.Second; elapsed > max {
		t.Errorf("Run took %v, want at most %v", elapsed, max)
	}
	assertGroupGone(t, pgid)
}

func TestShellSIGKILLAfterGrace(t *testing.T) {
	s := &Shell{Grace: 300 * time.Millisecond}
	// Children inherit the ignored SIGTERM, so only SIGKILL ends them.
	step := Step{
		Dir:      t.TempDir(),
		Commands: []string{`trap '' TERM`, `echo pgid $$`, `sleep 900 & sh -c 'sleep 900 & sleep 900'`},
		Timeout:  time.Second,
	}
	start := time.Now()
	pgid, done, _ := startStreaming(t, context.Background(), s, step)
	r := <-done
	elapsed := time.Since(start)
	if r.res.Reason != ReasonTimedOut {
		t.Errorf("got %+v, want reason %q", r.res, ReasonTimedOut)
	}
	if elapsed < step.Timeout+s.Grace {
		t.Errorf("Run took %v, want at least timeout+grace %v (SIGTERM is ignored)", elapsed, step.Timeout+s.Grace)
	}
	assertGroupGone(t, pgid)
}

func TestShellCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := &Shell{Grace: time.Second}
	step := Step{Dir: t.TempDir(), Commands: []string{`echo pgid $$`, `sleep 900 & sleep 900`}}
	pgid, done, _ := startStreaming(t, ctx, s, step)
	cancel()
	r := <-done
	if r.err != nil || r.res.ExitStatus != -1 || r.res.Reason != ReasonCancelled {
		t.Errorf("got %+v, %v; want exit -1 reason %q", r.res, r.err, ReasonCancelled)
	}
	assertGroupGone(t, pgid)
}

func TestShellExitStatus(t *testing.T) {
	tests := []struct {
		name     string
		commands []string
		want     int
		wantLog  string
	}{
		{"success", []string{"echo hello"}, 0, "hello\n"},
		{"exit code", []string{"echo a", "exit 3"}, 3, "a\n"},
		{"first failure ends the step", []string{"echo a", "false", "echo not reached"}, 1, "a\n"},
		{"stderr merged", []string{"echo out", "echo err >&2", "echo out2"}, 0, "out\nerr\nout2\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var log syncBuffer
			res, err := (&Shell{}).Run(context.Background(), Step{Dir: t.TempDir(), Commands: tt.commands}, &log)
			if err != nil {
				t.Fatalf("Run error: %v", err)
			}
			if res.ExitStatus != tt.want || res.Reason != "" {
				t.Errorf("got %+v, want exit %d and no reason", res, tt.want)
			}
			if got := log.String(); got != tt.wantLog {
				t.Errorf("log = %q, want %q", got, tt.wantLog)
			}
		})
	}
}

func TestShellKilledBySignal(t *testing.T) {
	var log syncBuffer
	res, err := (&Shell{}).Run(context.Background(), Step{Dir: t.TempDir(), Commands: []string{"kill -KILL $$"}}, &log)
	if err != nil {
		t.Fatal(err)
	}
	if res.ExitStatus != -1 || !strings.Contains(res.Reason, "signal 9") {
		t.Errorf("got %+v, want exit -1 and a reason naming signal 9", res)
	}
}

func TestShellEnvAndDir(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("AIRLOCK_TEST_BASE", "from-agent")
	var log syncBuffer
	step := Step{
		Dir:      dir,
		Env:      []string{"FLAG=NO", "VERSION=1.10", "SPACES= a  b ", "AIRLOCK_TEST_BASE=overridden"},
		Commands: []string{`printf '%s|%s|%s|%s|%s' "$FLAG" "$VERSION" "$SPACES" "$AIRLOCK_TEST_BASE" "$(pwd -P)"`},
	}
	if _, err := (&Shell{}).Run(context.Background(), step, &log); err != nil {
		t.Fatal(err)
	}
	realDir, err := filepath.EvalSymlinks(dir)
	if err != nil {
		t.Fatal(err)
	}
	want := "NO|1.10| a  b |overridden|" + realDir
	if got := log.String(); got != want {
		t.Errorf("output = %q, want %q", got, want)
	}
}

func TestShellInheritsAgentEnv(t *testing.T) {
	t.Setenv("AIRLOCK_TEST_BASE", "from-agent")
	var log syncBuffer
	if _, err := (&Shell{}).Run(context.Background(), Step{Dir: t.TempDir(), Commands: []string{`printf %s "$AIRLOCK_TEST_BASE"`}}, &log); err != nil {
		t.Fatal(err)
	}
	if got := log.String(); got != "from-agent" {
		t.Errorf("output = %q, want %q", got, "from-agent")
	}
}

func TestShellStreamsOutput(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "release")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	step := Step{
		Dir:      dir,
		Env:      []string{"FIFO=" + fifo},
		Commands: []string{`echo pgid $$`, `read x < "$FIFO"`, `echo second`},
	}
	_, done, rest := startStreaming(t, context.Background(), &Shell{}, step)
	// The first line has arrived; the step is blocked on the fifo, so it
	// cannot have ended yet.
	select {
	case r := <-done:
		t.Fatalf("step ended (%+v) before it was released", r.res)
	default:
	}
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("go\n")
	f.Close()
	r := <-done
	if r.err != nil || r.res.ExitStatus != 0 {
		t.Fatalf("got %+v, %v; want exit 0", r.res, r.err)
	}
	if got := rest.String(); got != "second\n" {
		t.Errorf("rest of log = %q, want %q", got, "second\n")
	}
}

func TestShellCannotStart(t *testing.T) {
	tests := []struct {
		name string
		step Step
	}{
		{"missing dir", Step{Dir: "/nonexistent/airlock", Commands: []string{"true"}}},
		{"no commands", Step{Dir: "/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := (&Shell{}).Run(context.Background(), tt.step, io.Discard)
			if err == nil {
				t.Fatalf("Run succeeded (%+v), want an error", res)
			}
			if res.ExitStatus != -1 {
				t.Errorf("exit status = %d, want -1", res.ExitStatus)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		stat      string
		wantState byte
		wantPgrp  int
		wantOK    bool
	}{
		{"123 (sleep) S 1 456 456 0 -1", 'S', 456, true},
		{"123 (we ird) name)) Z 1 77 77 0", 'Z', 77, true},
		{"garbage", 0, 0, false},
		{"1 (x) S 1", 0, 0, false},
	}
	for _, tt := range tests {
		state, pgrp, ok := parseStat(tt.stat)
		if state != tt.wantState || pgrp != tt.wantPgrp || ok != tt.wantOK {
			t.Errorf("parseStat(%q) = %q, %d, %v; want %q, %d, %v", tt.stat, state, pgrp, ok, tt.wantState, tt.wantPgrp, tt.wantOK)
		}
	}
}
