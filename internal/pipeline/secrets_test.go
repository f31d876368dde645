package pipeline

import (
	"reflect"
	"testing"
)

func TestSecrets(t *testing.T) {
	p := mustParse(t, "testdata/ok/secrets.yml")
	wantPipeline := []Secret{
		{Env: "GITHUB_TOKEN", Ref: "env://GITHUB_TOKEN", Line: 5, Column: 11},
		{Env: "SHARED", Ref: "env://SHARED", Line: 5, Column: 25},
	}
	if !reflect.DeepEqual(p.Secrets, wantPipeline) {
		t.Errorf("got pipeline secrets %+v, want %+v", p.Secrets, wantPipeline)
	}
	wantPublish := []Secret{
		{Env: "GITHUB_TOKEN", Ref: "env://GITHUB_TOKEN", Line: 5, Column: 11},
		{Env: "NPM_TOKEN", Ref: "vault://secret/ci/npm#token", Line: 10, Column: 7},
		{Env: "DB_PASSWORD", Ref: "aws-sm://prod/db#password", Line: 11, Column: 7},
		// The step's SHARED overrides the pipeline's.
		{Env: "SHARED", Ref: "azure-kv://ci-vault/shared-token", Line: 12, Column: 7},
		{Env: "SIGNING_KEY", Ref: "gcp-sm://projects/my-project/secrets/signing/versions/latest", Line: 13, Column: 7},
		{Env: "LEGACY", Ref: "env://LEGACY_TOKEN", Line: 14, Column: 7},
		{Env: "DEV_ONLY", Ref: "age://.airlock/secrets.age#DEV_ONLY", Line: 15, Column: 7},
	}
	if got := p.SecretsFor(p.Steps[0]); !reflect.DeepEqual(got, wantPublish) {
		t.Errorf("got publish's secrets\n%+v\nwant\n%+v", got, wantPublish)
	}
	if got := p.SecretsFor(p.Steps[1]); !reflect.DeepEqual(got, wantPipeline) {
		t.Errorf("got plain's secrets %+v, want the pipeline's %+v", got, wantPipeline)
	}
}

// TestBuildkiteSecrets: Buildkite's own secrets pipeline moves over
// unchanged; its bare secret names come from the agent's environment.
func TestBuildkiteSecrets(t *testing.T) {
	p := mustParse(t, "testdata/buildkite/valid-pipelines/secrets.yml")
	var got []string
	for _, s := range p.SecretsFor(p.Steps[0]) {
		got = append(got, s.Env+"="+s.Ref)
	}
	want := []string{
		"GLOBAL_API_TOKEN=env://GLOBAL_API_TOKEN", "DATABASE_URL=env://DATABASE_URL",
		"MY_APP_ACCESS_TOKEN=env://API_ACCESS_TOKEN", "CUSTOM_DEPLOYMENT_KEY=env://DEPLOYMENT_KEY",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}
