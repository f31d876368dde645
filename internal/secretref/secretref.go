// Package secretref parses secret references: the names pipelines use for
// secrets that only an agent resolves, such as vault://secret/app/db#password.
//
// A reference names where a secret lives, never its value, so references may
// travel through the control plane, its storage and its logs. Parsing is
// strict: anything that is not exactly one of the forms below is refused with
// an error that says what was expected.
//
//	aws-sm://<name or ARN>[#<json-key>]                 AWS Secrets Manager
//	vault://<mount>/<path>#<key>                        HashiCorp Vault, KV version 2
//	azure-kv://<vault>/<name>[/<version>]               Azure Key Vault
//	gcp-sm://projects/<p>/secrets/<s>/versions/<v>      Google Secret Manager
//	env://<NAME>                                        the agent process's environment
//	age://<path in the repository>#<KEY>                an age-encrypted file (development)
//
// The package depends only on the standard library and builds for js/wasm:
// the pipeline parser (on the control plane) and the agent share it.
package secretref

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Scheme is a secret backend, the part of a reference before "://".
type Scheme string

// The schemes Parse accepts.
const (
	AWSSecretsManager Scheme = "aws-sm"
	Vault             Scheme = "vault"
	AzureKeyVault     Scheme = "azure-kv"
	GCPSecretManager  Scheme = "gcp-sm"
	Env               Scheme = "env"
	Age               Scheme = "age"
)

// Schemes lists every scheme, in the order the documentation gives them.
var Schemes = []Scheme{AWSSecretsManager, Vault, AzureKeyVault, GCPSecretManager, Env, Age}

// MaxLen is the longest reference Parse accepts.
const MaxLen = 1024

// Ref is a parsed reference. Which fields are set depends on Scheme:
//
//	scheme    Store          Name                   Version        Key
//	aws-sm    -              secret name or ARN     -              JSON key (optional)
//	vault     mount          path under the mount   -              key in the secret's data
//	azure-kv  key vault      secret name            version (opt.) -
//	gcp-sm    project        secret ID              version        -
//	env       -              variable name          -              -
//	age       -              file path in the repo  -              key in the file
type Ref struct {
	Scheme  Scheme
	Store   string
	Name    string
	Version string
	Key     string
}

// String is the reference in its canonical form; Parse(r.String()) == r.
func (r Ref) String() string {
	var s string
	switch r.Scheme {
	case Vault, AzureKeyVault:
		s = string(r.Scheme) + "://" + r.Store + "/" + r.Name
		if r.Version != "" {
			s += "/" + r.Version
		}
	case GCPSecretManager:
		s = "gcp-sm://projects/" + r.Store + "/secrets/" + r.Name + "/versions/" + r.Version
	default:
		s = string(r.Scheme) + "://" + r.Name
	}
	if r.Key != "" {
		s += "#" + r.Key
	}
	return s
}

// ErrSyntax is wrapped by every error Parse returns.
var ErrSyntax = errors.New("invalid secret reference")

// Error is a reference Parse refused and why.
type Error struct {
	// Ref is the reference as given, shortened when very long.
	Ref string
	// Problem says what is wrong and what was expected.
	Problem string
}

func (e *Error) Error() string {
	return fmt.Sprintf("secret reference %q: %s", e.Ref, e.Problem)
}

func (e *Error) Unwrap() error { return ErrSyntax }

var (
	// envName is a portable environment variable name.
	envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	// awsName: Secrets Manager names are 1–512 of letters, digits and
	// /_+=.@-.
	awsName = regexp.MustCompile(`^[A-Za-z0-9/_+=.@-]{1,512}$`)
	awsARN  = regexp.MustCompile(`^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:[A-Za-z0-9/_+=.@-]+$`)
	// jsonKey is a key of a JSON SecretString: printable, no "#".
	jsonKey = regexp.MustCompile(`^[A-Za-z0-9_.@/+=:-]{1,256}$`)
	// vaultSegment is one segment of a Vault mount or path.
	vaultSegment = regexp.MustCompile(`^[A-Za-z0-9_.@+=-]{1,256}$`)
	vaultKey     = regexp.MustCompile(`^[A-Za-z0-9_.@/+=:-]{1,256}$`)
	// Azure: vault names are 3–24 of letters, digits and "-", starting
	// with a letter, ending with a letter or digit, no "--"; secret
	// names 1–127 of letters, digits and "-"; versions 32 hex digits.
	azureVault   = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9-]{1,22}[A-Za-z0-9]$`)
	azureName    = regexp.MustCompile(`^[A-Za-z0-9-]{1,127}$`)
	azureVersion = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)
	// GCP: a project ID (6–30, lowercase) or number; a secret ID of
	// letters, digits, "_" and "-" up to 255; a version number or "latest".
	gcpProject = regexp.MustCompile(`^([a-z][a-z0-9-]{4,28}[a-z0-9]|[0-9]{1,20})$`)
	gcpSecret  = regexp.MustCompile(`^[A-Za-z0-9_-]{1,255}$`)
	gcpVersion = regexp.MustCompile(`^([1-9][0-9]{0,18}|latest)$`)
	// agePath segments: no spaces, "#", "?", "%" or backslashes.
	ageSegment = regexp.MustCompile(`^[A-Za-z0-9_.@+=,-]{1,255}$`)
)

// ValidEnvName reports whether name is usable as an environment variable
// name that a secret is put in: letters, digits and "_", not starting with
// a digit.
func ValidEnvName(name string) bool { return len(name) <= 256 && envName.MatchString(name) }

// Parse parses a reference. Its error is an *Error.
func Parse(s string) (Ref, error) {
	fail := func(format string, args ...any) (Ref, error) {
		shown := s
		if len(shown) > 80 {
			shown = shown[:77] + "..."
		}
		return Ref{}, &Error{Ref: shown, Problem: fmt.Sprintf(format, args...)}
	}
	if len(s) > MaxLen {
		return fail("is %d characters long; the limit is %d", len(s), MaxLen)
	}
	if s == "" {
		return fail("is empty; expected <scheme>://…, with scheme one of %s", schemeList())
	}
	for _, c := range s {
		if c <= ' ' || c == 0x7f || c > 0x7e {
			return fail("holds a space, a control character or a non-ASCII character; references are plain ASCII")
		}
	}
	scheme, rest, ok := strings.Cut(s, "://")
	if !ok {
		return fail("has no scheme; expected <scheme>://…, with scheme one of %s", schemeList())
	}
	body, key, hasKey := strings.Cut(rest, "#")
	if hasKey && strings.Contains(key, "#") {
		return fail("has more than one \"#\"")
	}
	if hasKey && key == "" {
		return fail("has an empty key after \"#\"")
	}
	if strings.ContainsAny(body, "?%\\") {
		return fail("holds \"?\", \"%%\" or \"\\\"; a reference takes no query and no escapes")
	}
	r := Ref{Scheme: Scheme(scheme), Key: key}
	switch r.Scheme {
	case AWSSecretsManager:
		switch {
		case body == "":
			return fail("names no secret; expected aws-sm://<name or ARN>[#<json-key>]")
		case strings.HasPrefix(body, "arn:") && !awsARN.MatchString(body):
			return fail("is not a Secrets Manager secret ARN; expected arn:aws:secretsmanager:<region>:<account>:secret:<name>")
		case !strings.HasPrefix(body, "arn:") && !awsName.MatchString(body):
			return fail("secret name %q may hold only letters, digits and /_+=.@- (at most 512)", truncate(body, 60))
		case hasKey && !jsonKey.MatchString(key):
			return fail("JSON key %q may hold only letters, digits and _.@/+=:-", truncate(key, 60))
		}
		r.Name = body
	case Vault:
		mount, path, _ := strings.Cut(body, "/")
		if mount == "" || path == "" {
			return fail("expected vault://<mount>/<path>#<key>, such as vault://secret/ci/npm#token")
		}
		for _, seg := range strings.Split(body, "/") {
			if seg == "." || seg == ".." || !vaultSegment.MatchString(seg) {
				return fail("path segment %q must be letters, digits or _.@+=- (no empty, \".\" or \"..\" segments)", truncate(seg, 60))
			}
		}
		switch {
		case !hasKey:
			return fail("names no key; expected vault://<mount>/<path>#<key>: a KV v2 secret holds several keys")
		case !vaultKey.MatchString(key):
			return fail("key %q may hold only letters, digits and _.@/+=:-", truncate(key, 60))
		}
		r.Store, r.Name = mount, path
	case AzureKeyVault:
		parts := strings.Split(body, "/")
		if len(parts) < 2 || len(parts) > 3 {
			return fail("expected azure-kv://<vault>/<name>[/<version>], such as azure-kv://ci-vault/npm-token")
		}
		switch {
		case !azureVault.MatchString(parts[0]) || strings.Contains(parts[0], "--"):
			return fail("key vault name %q must be 3 to 24 letters, digits and single hyphens, starting with a letter", truncate(parts[0], 60))
		case !azureName.MatchString(parts[1]):
			return fail("secret name %q must be 1 to 127 letters, digits and hyphens", truncate(parts[1], 60))
		case len(parts) == 3 && !azureVersion.MatchString(parts[2]):
			return fail("version %q must be 32 hexadecimal digits", truncate(parts[2], 60))
		case hasKey:
			return fail("takes no \"#\" key; an Azure Key Vault secret is one value")
		}
		r.Store, r.Name = parts[0], parts[1]
		if len(parts) == 3 {
			r.Version = parts[2]
		}
	case GCPSecretManager:
		parts := strings.Split(body, "/")
		if len(parts) != 6 || parts[0] != "projects" || parts[2] != "secrets" || parts[4] != "versions" {
			return fail("expected gcp-sm://projects/<project>/secrets/<secret>/versions/<version or latest>")
		}
		switch {
		case !gcpProject.MatchString(parts[1]):
			return fail("project %q must be a project ID (6 to 30 lowercase letters, digits and hyphens) or a project number", truncate(parts[1], 60))
		case !gcpSecret.MatchString(parts[3]):
			return fail("secret ID %q must be 1 to 255 letters, digits, _ and -", truncate(parts[3], 60))
		case !gcpVersion.MatchString(parts[5]):
			return fail("version %q must be a version number or \"latest\"", truncate(parts[5], 60))
		case hasKey:
			return fail("takes no \"#\" key; a Secret Manager version is one value")
		}
		r.Store, r.Name, r.Version = parts[1], parts[3], parts[5]
	case Env:
		switch {
		case !ValidEnvName(body):
			return fail("expected env://<NAME>, NAME being letters, digits and _ not starting with a digit")
		case hasKey:
			return fail("takes no \"#\" key")
		}
		r.Name = body
	case Age:
		if body == "" || strings.HasPrefix(body, "/") {
			return fail("expected age://<path in the repository>#<KEY>, such as age://.airlock/secrets.age#NPM_TOKEN (a relative path)")
		}
		for _, seg := range strings.Split(body, "/") {
			if seg == "." || seg == ".." || !ageSegment.MatchString(seg) {
				return fail("path segment %q must be letters, digits or _.@+=,- (no empty, \".\" or \"..\" segments)", truncate(seg, 60))
			}
		}
		switch {
		case !hasKey:
			return fail("names no key; expected age://<path>#<KEY>: the file holds several secrets")
		case !ValidEnvName(key):
			return fail("key %q must be letters, digits and _, not starting with a digit", truncate(key, 60))
		}
		r.Name = body
	default:
		if scheme == "" {
			return fail("has no scheme; expected one of %s", schemeList())
		}
		return fail("unknown scheme %q; expected one of %s", truncate(scheme, 20), schemeList())
	}
	return r, nil
}

func schemeList() string {
	names := make([]string, len(Schemes))
	for i, s := range Schemes {
		names[i] = string(s) + "://"
	}
	return strings.Join(names, ", ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
