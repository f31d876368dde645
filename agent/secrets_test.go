package agent

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/airlockci/airlock/agent/runner"
	"github.com/airlockci/airlock/agent/secrets"
	"github.com/airlockci/airlock/internal/secretref"
	"github.com/airlockci/airlock/internal/wire"
)

// TestStepGetsItsSecrets: a step's declared secrets reach its environment;
// one that cannot be resolved fails the step, naming the reference.
func TestStepGetsItsSecrets(t *testing.T) {
	env := map[string]string{"AGENT_TOKEN": "s3cr3t-value", "OTHER": "undeclared"}
	a := &Agent{Workspace: t.TempDir(), Shell: &runner.Shell{}, Secrets: &secrets.Resolver{Backends: map[secretref.Scheme]secrets.Backend{
		secretref.Env: &secrets.Env{Lookup: func(k string) (string, bool) { v, ok := env[k]; return v, ok }},
	}}}
	spec := &wire.Job{JobRef: wire.JobRef{ID: "j1", Attempt: 1}, Key: "k",
		Commands: []string{`test "$TOKEN" = s3cr3t-value && test -z "$OTHER_SECRET" && echo ok`},
		Secrets:  []wire.SecretRef{{Env: "TOKEN", Ref: "env://AGENT_TOKEN"}}}
	var log bytes.Buffer
	if res := a.execute(context.Background(), spec, &log); res.ExitStatus != 0 {
		t.Fatalf("got %+v, log %q; want the step to see its secret", res, log.String())
	}
	spec.Secrets = append(spec.Secrets, wire.SecretRef{Env: "DB", Ref: "env://MISSING"})
	log.Reset()
	res := a.execute(context.Background(), spec, &log)
	want := "secret DB (env://MISSING): MISSING is not set (not found) in the agent's environment"
	if res.ExitStatus != -1 || res.Reason != want || !strings.Contains(log.String(), want) {
		t.Errorf("got %+v, log %q; want exit -1 and %q", res, log.String(), want)
	}
	if strings.Contains(log.String()+res.Reason, "s3cr3t") {
		t.Errorf("a value reached the log or the reason")
	}
}
