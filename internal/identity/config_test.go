package identity_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/airlockci/airlock/internal/identity"
)

const validPools = `audience: airlock.example.com           # our audience for OIDC tokens
aws:
  sts_endpoints: [https://sts.amazonaws.com, https://sts.us-east-1.amazonaws.com/]
pools:
  - name: linux
    tags: {queue: default, gpu: false, cores: 8}
    aws:
      roles: ["arn:aws:iam::123456789012:role/airlock-agent", "arn:aws:iam::123456789012:role/ci-*"]
    oidc:
      - provider: github
        issuer: https://token.actions.githubusercontent.com
        subject: "repo:acme/app:*"
        claims: {repository_owner: acme}
  - name: gke
    oidc:
      - provider: gcp
        issuer: https://accounts.google.com
        subject: "112233445566778899"
        claims: {email_verified: true}
      - provider: kubernetes
        issuer: http://127.0.0.1:8080/id/local
        subject: system:serviceaccount:ci:agent
`

func TestLoadConfig(t *testing.T) {
	cfg, err := identity.LoadConfig("pools.yaml", []byte(validPools))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Audience != "airlock.example.com" || len(cfg.Pools) != 2 || cfg.Pools[0].Name != "linux" {
		t.Fatalf("got %+v", cfg)
	}
	if got := strings.Join(cfg.STSEndpoints, " "); got != "https://sts.amazonaws.com https://sts.us-east-1.amazonaws.com" {
		t.Errorf("got endpoints %s", got)
	}
	if cfg.Pools[0].Tags["gpu"] != "false" || cfg.Pools[0].Tags["cores"] != "8" {
		t.Errorf("got tags %v", cfg.Pools[0].Tags)
	}
	if r := cfg.Pools[0].AWSRoles[1]; !r.Prefix || r.Name != "ci-" || r.String() != "arn:aws:iam::123456789012:role/ci-*" {
		t.Errorf("got role %+v", r)
	}
	if c := cfg.Pools[1].OIDC[0].Claims["email_verified"]; c != "true" {
		t.Errorf("got claim %q, want true", c)
	}

	// Default endpoints: AWS's own hosts only.
	cfg, err = identity.LoadConfig("p.yaml", []byte("audience: a\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.STSEndpoints) < 30 {
		t.Errorf("got %d default endpoints, want the global and every region", len(cfg.STSEndpoints))
	}
	for _, ep := range cfg.STSEndpoints {
		if !strings.HasPrefix(ep, "https://sts.") || !(strings.HasSuffix(ep, ".amazonaws.com") || strings.HasSuffix(ep, ".amazonaws.com.cn")) {
			t.Errorf("default endpoint %s is not an AWS STS host", ep)
		}
	}
}

// configCases are invalid files: the parser's message (with its
// file:line:column), and whether the JSON Schema catches it too (some
// rules, like unique names or duplicate keys, are beyond a schema).
var configCases = []struct {
	name, src, message string
	schemaToo          bool
}{
	{"empty", "", "empty file", true},
	{"not a mapping", "- a\n", "p.yaml:1:1: the file is a list; expected a mapping", true},
	{"syntax", "audience: [\n", "p.yaml:1: invalid YAML", false},
	{"unknown key", "audience: a\nadmins: [me]\npools: []\n", "p.yaml:2:1: unknown key \"admins\"", true},
	{"duplicate key", "audience: a\naudience: b\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n", "p.yaml:2:1: duplicate key \"audience\"", false},
	{"missing audience", "pools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n", "audience is missing", true},
	{"audience wrong type", "audience: [a]\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n", "p.yaml:1:11: audience is a list; expected a string", true},
	{"no pools", "audience: a\npools: []\n", "p.yaml:2:8: pools is empty", true},
	{"pool name", "audience: a\npools:\n  - name: Linux Pool\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n", "p.yaml:3:11: pools[0].name \"Linux Pool\"", true},
	{"duplicate pool name", "audience: a\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/s\"]}\n", "p.yaml:5:5: pools[1]: name \"p\" is already used", false},
	{"pool trusts nobody", "audience: a\npools:\n  - name: p\n", "p.yaml:3:5: pools[0] (p) trusts nobody", true},
	{"role wildcard in the middle", "audience: a\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/*-agent\"]}\n", "wildcard is allowed only at the end", true},
	{"role account wildcard", "audience: a\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/*\"]}\n", "needs a role-name prefix", true},
	{"role bad account", "audience: a\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::12345:role/r\"]}\n", "12 digits", true},
	{"role bad partition", "audience: a\npools:\n  - name: p\n    aws: {roles: [\"arn:aws-evil:iam::123456789012:role/r\"]}\n", "partition", true},
	{"role not a role", "audience: a\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:user/r\"]}\n", "not a role", true},
	{"empty roles", "audience: a\npools:\n  - name: p\n    aws: {roles: []}\n", "aws.roles is empty", true},
	{"http endpoint", "audience: a\naws: {sts_endpoints: [\"http://sts.amazonaws.com\"]}\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n", "p.yaml:2:23: aws.sts_endpoints[0]: \"http://sts.amazonaws.com\" uses http", true},
	{"endpoint with path", "audience: a\naws: {sts_endpoints: [\"https://sts.amazonaws.com/x\"]}\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n", "has a path", true},
	{"endpoint with user info", "audience: a\naws: {sts_endpoints: [\"https://me@sts.amazonaws.com\"]}\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n", "user info", true},
	{"endpoint IDN", "audience: a\naws: {sts_endpoints: [\"https://stѕ.amazonaws.com\"]}\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n", "not printable ASCII", true},
	{"issuer http", "audience: a\npools:\n  - name: p\n    oidc:\n      - {provider: github, issuer: \"http://token.actions.githubusercontent.com\", subject: x}\n", "uses http", true},
	{"issuer query", "audience: a\npools:\n  - name: p\n    oidc:\n      - {provider: github, issuer: \"https://i.example.com/?a=1\", subject: x}\n", "query or fragment", true},
	{"unknown provider", "audience: a\npools:\n  - name: p\n    oidc:\n      - {provider: okta, issuer: \"https://i.example.com\", subject: x}\n", "provider \"okta\"", true},
	{"subject star only", "audience: a\npools:\n  - name: p\n    oidc:\n      - {provider: github, issuer: \"https://i.example.com\", subject: \"*\"}\n", "would trust every subject", true},
	{"rule without subject", "audience: a\npools:\n  - name: p\n    oidc:\n      - {provider: github, issuer: \"https://i.example.com\"}\n", "has no subject", true},
	{"reserved claim", "audience: a\npools:\n  - name: p\n    oidc:\n      - {provider: github, issuer: \"https://i.example.com\", subject: x, claims: {aud: y}}\n", "aud is checked by the verifier", true},
	{"claim wrong type", "audience: a\npools:\n  - name: p\n    oidc:\n      - {provider: github, issuer: \"https://i.example.com\", subject: x, claims: {ref: [a]}}\n", "p.yaml:5:87: pools[0].oidc[0].claims.ref is a list; expected a string, number or boolean", true},
	{"tag null", "audience: a\npools:\n  - name: p\n    tags: {queue: }\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n", "pools[0].tags.queue is null", true},
	{"alias", "audience: &a a\npools:\n  - name: *a\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n", "anchor", false},
	{"two documents", "audience: a\npools:\n  - name: p\n    aws: {roles: [\"arn:aws:iam::123456789012:role/r\"]}\n---\naudience: b\n", "second YAML document", false},
}

func TestLoadConfigErrors(t *testing.T) {
	for _, tc := range configCases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := identity.LoadConfig("p.yaml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("got %v, want an error containing %q", err, tc.message)
			}
			var ce *identity.ConfigError
			if !errors.As(err, &ce) || ce.File != "p.yaml" {
				t.Errorf("got %T, want a *ConfigError for p.yaml", err)
			}
		})
	}
}

func compileSchema(t testing.TB) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(identity.PoolsSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("pools.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("pools.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// yamlToJSONValue converts YAML to the values jsonschema validates.
func yamlToJSONValue(t *testing.T, src string) (any, bool) {
	var v any
	if err := yaml.Unmarshal([]byte(src), &v); err != nil {
		return nil, false
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, false
	}
	out, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return out, true
}

// TestSchemaAgreesWithLoader: what the loader accepts the schema accepts,
// and the schema refuses what the loader refuses wherever a schema can.
func TestSchemaAgreesWithLoader(t *testing.T) {
	s := compileSchema(t)
	v, _ := yamlToJSONValue(t, validPools)
	if err := s.Validate(v); err != nil {
		t.Errorf("schema refuses the valid file: %v", err)
	}
	for _, tc := range configCases {
		if !tc.schemaToo {
			continue
		}
		t.Run(tc.name, func(t *testing.T) {
			v, ok := yamlToJSONValue(t, tc.src)
			if !ok {
				return
			}
			if err := s.Validate(v); err == nil {
				t.Errorf("schema accepts a file the loader refuses (%s)", tc.message)
			}
		})
	}
}

func FuzzLoadConfig(f *testing.F) {
	f.Add(validPools)
	for _, tc := range configCases {
		f.Add(tc.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := identity.LoadConfig("f.yaml", []byte(src))
		if err != nil {
			if cfg != nil {
				t.Fatal("got a config and an error")
			}
			var ce *identity.ConfigError
			if !errors.As(err, &ce) {
				t.Fatalf("got %T %v, want a *ConfigError", err, err)
			}
			return
		}
		if cfg.Audience == "" || len(cfg.Pools) == 0 || len(cfg.STSEndpoints) == 0 {
			t.Fatalf("accepted an incomplete config: %+v", cfg)
		}
	})
}
