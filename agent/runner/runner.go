// Package runner runs one job's step on the agent's machine: a shell command,
// a Wasm plugin, or commands in a container. It knows nothing of the control
// plane; the agent and `airlock run --local` both drive it.
//
// Contract: Run is called once per Step; it returns when the step has ended
// and every process it started is gone. Output is written to log as it is
// produced (writes may come from several goroutines but never concurrently).
// Cancelling ctx stops the step (the whole process group for shell steps)
// and Run returns a Result with Reason "cancelled". A step running past
// Step.Timeout is stopped the same way with Reason "timed out".
// An error is returned only when the step could not be started at all
// (for example an unreadable plugin); its message is safe to show the user.
package runner

import (
	"context"
	"io"
	"time"

	"github.com/airlockci/airlock/internal/wire"
)

// Step is what to run and where.
type Step struct {
	// Dir is the job's workspace; the step runs in it.
	Dir string
	// Env is added to the agent's base environment (KEY=VALUE).
	Env      []string
	Commands []string
	Plugin   *wire.Plugin
	// Container, when set, runs Commands in a container (the Container
	// runner); Dir is mounted into it.
	Container *wire.Container
	// Job is the job's ID; a container carries it in a label.
	Job string
	// Timeout is 0 for no timeout.
	Timeout time.Duration
	// Secrets are the values of the secrets the step declares, by name. A
	// plugin reads them, and only them, with the airlock_secret host
	// function. Nothing fills it yet: secret references are resolved by a
	// later change.
	Secrets map[string]string
}

// Result is how a step ended.
type Result struct {
	// ExitStatus is the exit status; -1 when the step was killed or could not run.
	ExitStatus int
	// Reason is empty for a normal exit, else "timed out", "cancelled" or an error.
	Reason string
}

// Runner runs steps.
type Runner interface {
	Run(ctx context.Context, step Step, log io.Writer) (Result, error)
}

// stoppedEarly reports whether a step was stopped before it ended on its
// own: cancelled through ctx, or past its own deadline in runCtx (a child of
// ctx carrying the step's timeout).
func stoppedEarly(ctx, runCtx context.Context) (Result, bool) {
	switch {
	case ctx.Err() != nil:
		return Result{ExitStatus: -1, Reason: ReasonCancelled}, true
	case runCtx.Err() != nil:
		return Result{ExitStatus: -1, Reason: ReasonTimedOut}, true
	}
	return Result{}, false
}
