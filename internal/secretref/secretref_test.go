package secretref

import (
	"errors"
	"strings"
	"testing"
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in   string
		want Ref
	}{
		{"aws-sm://ci/npm-token", Ref{Scheme: AWSSecretsManager, Name: "ci/npm-token"}},
		{"aws-sm://prod/db#password", Ref{Scheme: AWSSecretsManager, Name: "prod/db", Key: "password"}},
		{"aws-sm://arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf#user",
			Ref{Scheme: AWSSecretsManager, Name: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/db-AbCdEf", Key: "user"}},
		{"vault://secret/ci/npm#token", Ref{Scheme: Vault, Store: "secret", Name: "ci/npm", Key: "token"}},
		{"vault://kv/app#api.key", Ref{Scheme: Vault, Store: "kv", Name: "app", Key: "api.key"}},
		{"azure-kv://ci-vault/npm-token", Ref{Scheme: AzureKeyVault, Store: "ci-vault", Name: "npm-token"}},
		{"azure-kv://ci-vault/npm-token/0123456789abcdef0123456789abcdef",
			Ref{Scheme: AzureKeyVault, Store: "ci-vault", Name: "npm-token", Version: "0123456789abcdef0123456789abcdef"}},
		{"gcp-sm://projects/my-project/secrets/npm_token/versions/latest",
			Ref{Scheme: GCPSecretManager, Store: "my-project", Name: "npm_token", Version: "latest"}},
		{"gcp-sm://projects/123456789/secrets/npm/versions/3", Ref{Scheme: GCPSecretManager, Store: "123456789", Name: "npm", Version: "3"}},
		{"env://NPM_TOKEN", Ref{Scheme: Env, Name: "NPM_TOKEN"}},
		{"age://.airlock/secrets.age#NPM_TOKEN", Ref{Scheme: Age, Name: ".airlock/secrets.age", Key: "NPM_TOKEN"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
			if s := got.String(); s != tt.in {
				t.Errorf("got String() %q, want %q", s, tt.in)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		in, want string
	}{
		{"", "is empty; expected <scheme>://…"},
		{"NPM_TOKEN", "has no scheme"},
		{"://x", "has no scheme"},
		{"s3://bucket/key", `unknown scheme "s3"; expected one of aws-sm://, vault://, azure-kv://, gcp-sm://, env://, age://`},
		{"AWS-SM://x", `unknown scheme "AWS-SM"`},
		{"aws-sm://", "names no secret"},
		{"aws-sm://a b", "holds a space"},
		{"aws-sm://db#", "empty key after"},
		{"aws-sm://db#a#b", "more than one"},
		{"aws-sm://db?versionStage=AWSPREVIOUS", "takes no query"},
		{"aws-sm://pro%2Fd", "takes no query and no escapes"},
		{"aws-sm://bad*name", `secret name "bad*name" may hold only`},
		{"aws-sm://" + strings.Repeat("a", 513), "may hold only letters"},
		{"aws-sm://arn:aws:s3:::bucket", "is not a Secrets Manager secret ARN"},
		{"aws-sm://db#a b", "holds a space"},
		{"vault://secret#key", "expected vault://<mount>/<path>#<key>"},
		{"vault://secret/#key", "expected vault://<mount>/<path>#<key>"},
		{"vault://secret/app", "names no key"},
		{"vault://secret/../sys/policy#x", `path segment ".."`},
		{"vault://secret//app#x", `path segment ""`},
		{"vault:///app#x", "expected vault://<mount>/<path>#<key>"},
		{"azure-kv://ci-vault", "expected azure-kv://<vault>/<name>"},
		{"azure-kv://ci-vault/a/b/c", "expected azure-kv://<vault>/<name>"},
		{"azure-kv://x/name", `key vault name "x" must be 3 to 24`},
		{"azure-kv://ci--vault/name", `key vault name "ci--vault"`},
		{"azure-kv://ci-vault/bad_name", `secret name "bad_name"`},
		{"azure-kv://ci-vault/name/v1", `version "v1" must be 32 hexadecimal digits`},
		{"azure-kv://ci-vault/name#k", "takes no \"#\" key"},
		{"gcp-sm://my-project/npm", "expected gcp-sm://projects/<project>"},
		{"gcp-sm://projects/my-project/secrets/npm", "expected gcp-sm://projects/<project>"},
		{"gcp-sm://projects/My_Project/secrets/npm/versions/1", `project "My_Project"`},
		{"gcp-sm://projects/my-project/secrets/n.pm/versions/1", `secret ID "n.pm"`},
		{"gcp-sm://projects/my-project/secrets/npm/versions/0", `version "0" must be a version number or "latest"`},
		{"gcp-sm://projects/my-project/secrets/npm/versions/LATEST", `version "LATEST"`},
		{"gcp-sm://projects/my-project/secrets/npm/versions/1#k", "takes no \"#\" key"},
		{"env://", "expected env://<NAME>"},
		{"env://1ABC", "expected env://<NAME>"},
		{"env://A-B", "expected env://<NAME>"},
		{"env://A#b", "takes no \"#\" key"},
		{"age://secrets.age", "names no key"},
		{"age:///etc/secrets.age#K", "a relative path"},
		{"age://../secrets.age#K", `path segment ".."`},
		{"age://secrets.age#not-a-name", `key "not-a-name"`},
		{"env://ÄBC", "non-ASCII"},
		{"env://A\x00", "control character"},
		{strings.Repeat("x", MaxLen+1), "characters long; the limit is 1024"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("got %+v, want an error containing %q", got, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got error %q, want it to contain %q", err, tt.want)
			}
			var e *Error
			if !errors.As(err, &e) || !errors.Is(err, ErrSyntax) {
				t.Errorf("got %T, want *Error wrapping ErrSyntax", err)
			}
			if len(err.Error()) > 400 {
				t.Errorf("error is %d characters long; a long reference must be shortened", len(err.Error()))
			}
		})
	}
}

func TestValidEnvName(t *testing.T) {
	for name, want := range map[string]bool{"A": true, "_A1": true, "npm_token": true, "": false, "1A": false, "A-B": false, "A=B": false, "A B": false} {
		if got := ValidEnvName(name); got != want {
			t.Errorf("ValidEnvName(%q) = %v, want %v", name, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"aws-sm://prod/db#password", "vault://secret/ci/npm#token", "azure-kv://ci-vault/npm-token",
		"gcp-sm://projects/p-1234/secrets/s/versions/latest", "env://X", "age://a/b.age#K", "x://", "#", "aws-sm://arn:aws:secretsmanager:us-east-1:123456789012:secret:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error %v does not wrap ErrSyntax", err)
			}
			return
		}
		// A parsed reference round-trips and is what was written.
		if r.String() != s {
			t.Fatalf("String() = %q, want %q", r.String(), s)
		}
		again, err := Parse(r.String())
		if err != nil || again != r {
			t.Fatalf("reparse of %q: %+v, %v; want %+v", r.String(), again, err, r)
		}
	})
}
