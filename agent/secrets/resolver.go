// Package secrets resolves the secret references a job declares, on the
// agent, with the agent's own workload identity. Values never leave the
// agent's process except into the step that declared them.
//
// Each scheme of package secretref has a Backend. A Resolver holds them and
// resolves one job's references: the step gets exactly the secrets it
// declares, or, when one of them cannot be resolved, none and an *Error
// naming the reference (never a value). Backends log nothing.
package secrets

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/airlockci/airlock/internal/secretref"
	"github.com/airlockci/airlock/internal/wire"
)

// Backend resolves the references of one scheme.
//
// Contract: Resolve may be called from several goroutines at once (one per
// running job); it returns when ctx is done at the latest; its error is safe
// to show the pipeline's author: it names what failed and never includes a
// secret value or a credential. Backends cache credentials (tokens), never
// secret values.
type Backend interface {
	Resolve(ctx context.Context, ref secretref.Ref, job Job) (string, error)
}

// Job is what a backend may need to know about the job it resolves for.
type Job struct {
	// Workspace is the job's checked-out repository (age:// files live there).
	Workspace string
}

// Secret is one resolved secret.
type Secret struct {
	Env   string
	Ref   string
	Value string
}

// DefaultTimeout is Resolver.Timeout's default.
const DefaultTimeout = 30 * time.Second

// Resolver resolves a job's secrets. The zero value has no backends.
type Resolver struct {
	// Backends by scheme; a reference to a scheme without one fails.
	Backends map[secretref.Scheme]Backend
	// Timeout bounds the resolution of each reference; default DefaultTimeout.
	Timeout time.Duration
}

// Error is a reference that could not be resolved.
type Error struct {
	Env string
	Ref string
	Err error
}

func (e *Error) Error() string {
	return fmt.Sprintf("secret %s (%s): %v", e.Env, e.Ref, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

var (
	// ErrNoBackend: the agent has no backend for the reference's scheme.
	ErrNoBackend = errors.New("this agent has no backend for this kind of secret")
	// ErrNotFound: the store answered that the secret (or key) does not exist.
	ErrNotFound = errors.New("not found")
)

// Resolve resolves refs, in order, for a job whose workspace is workspace.
// On the first failure it returns nil and an *Error. A nil Resolver
// resolves nothing: refs, if any, fail with ErrNoBackend.
func (r *Resolver) Resolve(ctx context.Context, refs []wire.SecretRef, workspace string) ([]Secret, error) {
	if len(refs) == 0 {
		return nil, nil
	}
	out := make([]Secret, 0, len(refs))
	done := make(map[string]string, len(refs)) // a reference used twice is fetched once
	for _, sr := range refs {
		fail := func(err error) ([]Secret, error) { return nil, &Error{Env: sr.Env, Ref: sr.Ref, Err: err} }
		if !secretref.ValidEnvName(sr.Env) {
			return fail(errors.New("invalid environment variable name"))
		}
		ref, err := secretref.Parse(sr.Ref)
		if err != nil {
			return fail(err)
		}
		if v, ok := done[ref.String()]; ok {
			out = append(out, Secret{Env: sr.Env, Ref: sr.Ref, Value: v})
			continue
		}
		var b Backend
		if r != nil {
			b = r.Backends[ref.Scheme]
		}
		if b == nil {
			return fail(fmt.Errorf("%w (%s://)", ErrNoBackend, ref.Scheme))
		}
		v, err := r.resolveOne(ctx, b, ref, Job{Workspace: workspace})
		if err != nil {
			return fail(err)
		}
		done[ref.String()] = v
		out = append(out, Secret{Env: sr.Env, Ref: sr.Ref, Value: v})
	}
	return out, nil
}

func (r *Resolver) resolveOne(ctx context.Context, b Backend, ref secretref.Ref, job Job) (string, error) {
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	v, err := b.Resolve(ctx, ref, job)
	if err != nil && ctx.Err() == context.DeadlineExceeded {
		return "", fmt.Errorf("timed out after %s: %w", timeout, err)
	}
	return v, err
}
