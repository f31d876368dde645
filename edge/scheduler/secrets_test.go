package scheduler

import (
	"reflect"
	"strings"
	"testing"

	"github.com/airlockci/airlock/internal/wire"
)

// TestAssignCarriesSecretReferences: a step's secrets reach the agent as
// references, the pipeline's first and the step's own overriding them, and
// the stored spec holds nothing but those references.
func TestAssignCarriesSecretReferences(t *testing.T) {
	w := newWorld(t)
	conn := w.agent("a1", 2, nil)
	w.submit(`
secrets: [GITHUB_TOKEN, NPM_TOKEN]
steps:
  - key: publish
    command: npm publish
    secrets:
      NPM_TOKEN: vault://secret/ci/npm#token
  - key: plain
    command: make
`)
	jobs := w.assigned(conn)
	if len(jobs) != 2 {
		t.Fatalf("got %d jobs assigned, want 2", len(jobs))
	}
	got := map[string][]wire.SecretRef{}
	for _, j := range jobs {
		got[j.Key] = j.Secrets
	}
	want := map[string][]wire.SecretRef{
		"publish": {{Env: "GITHUB_TOKEN", Ref: "env://GITHUB_TOKEN"}, {Env: "NPM_TOKEN", Ref: "vault://secret/ci/npm#token"}},
		"plain":   {{Env: "GITHUB_TOKEN", Ref: "env://GITHUB_TOKEN"}, {Env: "NPM_TOKEN", Ref: "env://NPM_TOKEN"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got secrets %+v, want %+v", got, want)
	}
	rows := w.s.exec(`SELECT spec FROM jobs WHERE key = 'publish'`)
	if spec := asString(rows[0][0]); !strings.Contains(spec, `"secrets":[{"env":"GITHUB_TOKEN","ref":"env://GITHUB_TOKEN"},{"env":"NPM_TOKEN","ref":"vault://secret/ci/npm#token"}]`) {
		t.Errorf("got stored spec %s, want the references in it", spec)
	}
}
