package sessions_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/airlockci/airlock/edge/sessions"
)

const validSSO = `public_url: https://CI.example.com:443/
sessions: {idle_timeout: 30m, absolute_lifetime: 24h}
providers:
  - id: okta
    name: Okta
    issuer: https://example.okta.com
    client_id: 0oa123
    client_secret_env: AIRLOCK_SSO_OKTA_SECRET
    scopes: [openid, email, groups]
    allow: {email_domains: [example.com], groups: [eng]}
    admins: {emails: [root@example.com], groups: [airlock-admins]}
  - id: dev
    name: Dev IdP
    issuer: http://127.0.0.1:9999/realm
    client_id: airlock
    allow: {groups: [everyone]}
`

func TestLoadConfig(t *testing.T) {
	cfg, err := sessions.LoadConfig("sso.yml", []byte(validSSO))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Origin != "https://ci.example.com" || cfg.IdleTimeout != 30*time.Minute || cfg.AbsoluteLifetime != 24*time.Hour {
		t.Errorf("got origin %q, timeouts %s %s", cfg.Origin, cfg.IdleTimeout, cfg.AbsoluteLifetime)
	}
	p, ok := cfg.Provider("dev")
	if !ok || strings.Join(p.Scopes, " ") != "openid email profile" || p.GroupsClaim != "groups" || p.ClientSecretEnv != "" {
		t.Errorf("got provider %+v, want default scopes and groups claim", p)
	}
	// The committed example loads.
	src, err := os.ReadFile("../../.airlock/sso.yml")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sessions.LoadConfig(".airlock/sso.yml", src); err != nil {
		t.Errorf(".airlock/sso.yml: %v", err)
	}
}

const provider = "  - id: p\n    name: P\n    issuer: https://id.example.com\n    client_id: c\n    allow: {groups: [g]}\n"

var configCases = []struct {
	name, src, message string
	schemaToo          bool
}{
	{"empty", "", "empty file", true},
	{"not a mapping", "- a\n", "s.yml:1:1: the file is a list; expected a mapping", true},
	{"syntax", "public_url: [\n", "s.yml:1: invalid YAML", false},
	{"unknown key", "public_url: https://a.example.com\ncookies: x\nproviders:\n" + provider, "s.yml:2:1: unknown key \"cookies\"", true},
	{"duplicate key", "public_url: https://a.example.com\npublic_url: https://b.example.com\nproviders:\n" + provider, "s.yml:2:1: duplicate key", false},
	{"no public_url", "providers:\n" + provider, "public_url is missing", true},
	{"http public_url", "public_url: http://ci.example.com\nproviders:\n" + provider, "s.yml:1:13: public_url: \"http://ci.example.com\": expected https", true},
	{"public_url with path", "public_url: https://ci.example.com/app\nproviders:\n" + provider, "has a path", true},
	{"no providers", "public_url: https://a.example.com\nproviders: []\n", "s.yml:2:12: providers is empty", true},
	{"bad duration", "public_url: https://a.example.com\nsessions: {idle_timeout: 12 hours}\nproviders:\n" + provider, "s.yml:2:26: sessions.idle_timeout \"12 hours\" is not a duration", true},
	{"too long", "public_url: https://a.example.com\nsessions: {absolute_lifetime: 9000h}\nproviders:\n" + provider, "expected between 1m0s and 2160h0m0s", false},
	{"idle over absolute", "public_url: https://a.example.com\nsessions: {idle_timeout: 48h, absolute_lifetime: 24h}\nproviders:\n" + provider, "is longer than sessions.absolute_lifetime", false},
	{"bad id", "public_url: https://a.example.com\nproviders:\n  - {id: Okta_1, name: P, issuer: \"https://id.example.com\", client_id: c, allow: {groups: [g]}}\n", "providers[0].id \"Okta_1\"", true},
	{"duplicate id", "public_url: https://a.example.com\nproviders:\n" + provider + strings.Replace(provider, "id.example", "id2.example", 1), "id \"p\" is already used", false},
	{"duplicate issuer", "public_url: https://a.example.com\nproviders:\n" + provider + strings.Replace(provider, "id: p", "id: q", 1), "issuer \"https://id.example.com\" is already used", false},
	{"http issuer", "public_url: https://a.example.com\nproviders:\n" + strings.Replace(provider, "https://id", "http://id", 1), "expected https", true},
	{"issuer with query", "public_url: https://a.example.com\nproviders:\n" + strings.Replace(provider, "example.com", "example.com/?x=1", 1), "query", true},
	{"no allow", "public_url: https://a.example.com\nproviders:\n  - {id: p, name: P, issuer: \"https://id.example.com\", client_id: c}\n", "has no allow", true},
	{"empty allow", "public_url: https://a.example.com\nproviders:\n  - {id: p, name: P, issuer: \"https://id.example.com\", client_id: c, allow: {}}\n", "allow has no rule", true},
	{"domain with @", "public_url: https://a.example.com\nproviders:\n  - {id: p, name: P, issuer: \"https://id.example.com\", client_id: c, allow: {email_domains: [\"@example.com\"]}}\n", "expected a lower-case domain name", true},
	{"secret in the file", "public_url: https://a.example.com\nproviders:\n  - {id: p, name: P, issuer: \"https://id.example.com\", client_id: c, client_secret_env: \"s3cr3t-value\", allow: {groups: [g]}}\n", "never the secret itself", true},
	{"no openid scope", "public_url: https://a.example.com\nproviders:\n  - {id: p, name: P, issuer: \"https://id.example.com\", client_id: c, scopes: [email], allow: {groups: [g]}}\n", "scopes has no openid", true},
	{"no client_id", "public_url: https://a.example.com\nproviders:\n  - {id: p, name: P, issuer: \"https://id.example.com\", allow: {groups: [g]}}\n", "has no client_id", true},
	{"admin email upper case", "public_url: https://a.example.com\nproviders:\n  - {id: p, name: P, issuer: \"https://id.example.com\", client_id: c, allow: {groups: [g]}, admins: {emails: [Root@example.com]}}\n", "lower-case email", true},
	{"alias", "public_url: &u https://a.example.com\nproviders:\n" + provider, "anchor", false},
	{"two documents", "public_url: https://a.example.com\nproviders:\n" + provider + "---\na: b\n", "second YAML document", false},
}

func TestLoadConfigErrors(t *testing.T) {
	for _, tc := range configCases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := sessions.LoadConfig("s.yml", []byte(tc.src))
			if err == nil || !strings.Contains(err.Error(), tc.message) {
				t.Fatalf("got %v, want an error containing %q", err, tc.message)
			}
			var ce *sessions.ConfigError
			if cfg != nil || !errors.As(err, &ce) || ce.File != "s.yml" {
				t.Errorf("got %T (config %v), want only a *ConfigError for s.yml", err, cfg)
			}
		})
	}
}

func compileSchema(t testing.TB) *jsonschema.Schema {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(sessions.SSOSchema))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sso.schema.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sso.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

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

// TestSchemaAgreesWithLoader: the schema accepts what the loader accepts
// and refuses what it refuses wherever a schema can.
func TestSchemaAgreesWithLoader(t *testing.T) {
	s := compileSchema(t)
	example, _ := os.ReadFile("../../.airlock/sso.yml")
	for _, src := range []string{validSSO, string(example)} {
		v, _ := yamlToJSONValue(t, src)
		if err := s.Validate(v); err != nil {
			t.Errorf("schema refuses a valid file: %v", err)
		}
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
	f.Add(validSSO)
	for _, tc := range configCases {
		f.Add(tc.src)
	}
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := sessions.LoadConfig("f.yml", []byte(src))
		if err != nil {
			var ce *sessions.ConfigError
			if cfg != nil || !errors.As(err, &ce) {
				t.Fatalf("got %T %v (config %v), want only a *ConfigError", err, err, cfg)
			}
			return
		}
		if cfg.Origin == "" || len(cfg.Providers) == 0 || cfg.IdleTimeout > cfg.AbsoluteLifetime {
			t.Fatalf("accepted an incomplete config: %+v", cfg)
		}
		for _, p := range cfg.Providers {
			if p.ID == "" || p.Issuer == "" || p.ClientID == "" || len(p.Allow.EmailDomains)+len(p.Allow.Groups) == 0 {
				t.Fatalf("accepted an incomplete provider: %+v", p)
			}
		}
	})
}
