package runner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// DefaultGrace is how long a shell step's processes get between SIGTERM and
// SIGKILL when Shell.Grace is zero.
const DefaultGrace = 10 * time.Second

// Reasons a step was stopped, as found in Result.Reason.
const (
	ReasonTimedOut  = "timed out"
	ReasonCancelled = "cancelled"
)

// Shell runs a step's Commands as one `/bin/sh -e -c` script, so the first
// failing command ends the step. The script runs in its own process group;
// stopping the step signals the whole group, background children included.
// Processes that leave the group (setsid, double fork into a new group) are
// out of its reach: containing those needs a cgroup.
//
// The zero value is ready to use; a Shell may run several steps at once.
type Shell struct {
	// Grace is the time between SIGTERM and SIGKILL; 0 means DefaultGrace.
	Grace time.Duration
}

var _ Runner = (*Shell)(nil)

// groupPoll is how often Run checks whether a process group has emptied.
const groupPoll = 20 * time.Millisecond

// pipeDrain bounds how long Run keeps reading output once every process of
// the group is gone: only a process that escaped the group can still hold
// the pipe, and the step must not wait for it.
const pipeDrain = time.Second

// Run implements Runner.
func (s *Shell) Run(ctx context.Context, step Step, log io.Writer) (Result, error) {
	if step.Plugin != nil {
		return fail(errors.New("shell runner: step is a plugin step, not a command step"))
	}
	if len(step.Commands) == 0 {
		return fail(errors.New("shell runner: step has no commands"))
	}
	grace := s.Grace
	if grace <= 0 {
		grace = DefaultGrace
	}

	// One pipe for stdout and stderr keeps their relative order. It is ours,
	// not exec's, so Wait returns when the shell exits even if a child still
	// holds the write end.
	pr, pw, err := os.Pipe()
	if err != nil {
		return fail(fmt.Errorf("shell runner: create output pipe: %w", err))
	}
	cmd := exec.Command("/bin/sh", "-e", "-c", strings.Join(step.Commands, "\n"))
	cmd.Dir = step.Dir
	cmd.Env = append(os.Environ(), step.Env...)
	cmd.Stdout = pw
	cmd.Stderr = pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		pr.Close()
		pw.Close()
		return fail(fmt.Errorf("shell runner: start /bin/sh in %q: %w", step.Dir, err))
	}
	pw.Close()
	pgid := cmd.Process.Pid

	copied := make(chan struct{})
	go func() {
		defer close(copied)
		copyChunks(log, pr)
	}()

	exited := make(chan struct{})
	go func() {
		defer close(exited)
		cmd.Wait() // the exit status is read from cmd.ProcessState below
	}()

	var timeout <-chan time.Time
	if step.Timeout > 0 {
		t := time.NewTimer(step.Timeout)
		defer t.Stop()
		timeout = t.C
	}

	var reason string
	select {
	case <-exited:
	case <-ctx.Done():
		reason = ReasonCancelled
	case <-timeout:
		reason = ReasonTimedOut
	}
	// Whether the shell ended by itself or not, nothing it started may outlive
	// the step.
	stopGroup(pgid, exited, grace)
	<-exited

	pr.SetReadDeadline(time.Now().Add(pipeDrain))
	<-copied
	pr.Close()

	if reason != "" {
		return Result{ExitStatus: -1, Reason: reason}, nil
	}
	return exitResult(cmd.ProcessState), nil
}

// copyChunks writes each chunk to w as soon as it is read, so output streams
// instead of arriving in buffer-sized lumps. After a write error it keeps
// reading (and discarding) so the step never blocks on a full pipe.
func copyChunks(w io.Writer, r io.Reader) {
	buf := make([]byte, 32*1024)
	var werr error
	for {
		n, err := r.Read(buf)
		if n > 0 && werr == nil {
			_, werr = w.Write(buf[:n])
		}
		if err != nil {
			return
		}
	}
}

// stopGroup ends every process in group pgid: nothing if it is already
// empty, else SIGTERM, then SIGKILL to whatever is left after grace. It
// returns once the group is empty and its leader has been reaped (exited is
// closed).
func stopGroup(pgid int, exited <-chan struct{}, grace time.Duration) {
	gone := func() bool {
		select {
		case <-exited:
			return !groupAlive(pgid)
		default:
			return false
		}
	}
	if gone() {
		return
	}
	syscall.Kill(-pgid, syscall.SIGTERM)
	deadline := time.NewTimer(grace)
	defer deadline.Stop()
	tick := time.NewTicker(groupPoll)
	defer tick.Stop()
	for !gone() {
		select {
		case <-tick.C:
		case <-deadline.C:
			syscall.Kill(-pgid, syscall.SIGKILL)
			for !gone() {
				<-tick.C
				// A process forked between two signals is caught here.
				syscall.Kill(-pgid, syscall.SIGKILL)
			}
			return
		}
	}
}

// groupAlive reports whether process group pgid has a live (not zombie)
// member. Zombies are ignored: an orphan's zombie is its new parent's to
// reap, and that parent may be slow to do so.
func groupAlive(pgid int) bool {
	if err := syscall.Kill(-pgid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return true // no /proc: trust kill(2), which counts zombies
	}
	for _, e := range entries {
		name := e.Name()
		if name[0] < '0' || name[0] > '9' {
			continue
		}
		stat, err := os.ReadFile("/proc/" + name + "/stat")
		if err != nil {
			continue // it exited while we looked
		}
		state, pgrp, ok := parseStat(string(stat))
		if ok && pgrp == pgid && state != 'Z' && state != 'X' {
			return true
		}
	}
	return false
}

// parseStat extracts the state and process group from /proc/PID/stat. The
// command name (field 2) is in parentheses and may itself contain spaces and
// parentheses, so fields are counted from the last ')'.
func parseStat(stat string) (state byte, pgrp int, ok bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, 0, false
	}
	// After ") ": state ppid pgrp ...
	fields := strings.Fields(stat[i+1:])
	if len(fields) < 3 || len(fields[0]) != 1 {
		return 0, 0, false
	}
	if _, err := fmt.Sscanf(fields[2], "%d", &pgrp); err != nil {
		return 0, 0, false
	}
	return fields[0][0], pgrp, true
}

// exitResult turns how the shell ended into a Result.
func exitResult(ps *os.ProcessState) Result {
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		sig := ws.Signal()
		return Result{ExitStatus: -1, Reason: fmt.Sprintf("killed by signal %d (%v)", int(sig), sig)}
	}
	return Result{ExitStatus: ps.ExitCode()}
}

// fail is the Result and error of a step that could not start.
func fail(err error) (Result, error) {
	return Result{ExitStatus: -1, Reason: err.Error()}, err
}
