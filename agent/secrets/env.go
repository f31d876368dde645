package secrets

import (
	"context"
	"fmt"
	"os"

	"github.com/airlockci/airlock/internal/secretref"
)

// Env resolves env://NAME from the agent process's own environment, where
// ECS, Kubernetes or systemd inject secrets from the customer's store.
type Env struct {
	// Lookup reads a variable; nil means os.LookupEnv.
	Lookup func(string) (string, bool)
}

var _ Backend = (*Env)(nil)

// Resolve returns the variable's value; an unset variable is ErrNotFound.
func (e *Env) Resolve(_ context.Context, ref secretref.Ref, _ Job) (string, error) {
	lookup := e.Lookup
	if lookup == nil {
		lookup = os.LookupEnv
	}
	v, ok := lookup(ref.Name)
	if !ok {
		return "", fmt.Errorf("%s is %w in the agent's environment", ref.Name, errNotSet)
	}
	return v, nil
}

var errNotSet = fmt.Errorf("not set (%w)", ErrNotFound)
