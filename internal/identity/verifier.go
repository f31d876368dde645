package identity

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strings"
	"time"

	"github.com/airlockci/airlock/internal/oidcjwt"
)

// Errors callers branch on. Every error Verify returns wraps exactly one
// of ErrMalformedProof, ErrRefused or ErrUnavailable; ErrClockSkew and
// ErrNoPool are refusals too (errors.Is(err, ErrRefused) holds for them).
var (
	// ErrMalformedProof: the proof is not a well-formed Proof.
	ErrMalformedProof = errors.New("malformed identity proof")
	// ErrRefused: the proof does not prove an identity we trust.
	ErrRefused = errors.New("identity proof refused")
	// ErrUnavailable: the identity provider (STS, an issuer) could not
	// be asked or failed; the proof may be good, try again later.
	ErrUnavailable = errors.New("identity provider unavailable")
	// ErrClockSkew: the proof's time is too far from the server's; the
	// error is a *ClockSkewError carrying both.
	ErrClockSkew = errors.New("clock skew")
	// ErrNoPool: the identity is proven but no pool trusts it.
	ErrNoPool = errors.New("identity matches no agent pool")
)

const (
	// MaxClockSkew is how far a signed request's X-Amz-Date may be from
	// the server's clock, either way.
	MaxClockSkew = 5 * time.Minute
	// MaxSessionLifetime caps how long one proof admits an agent; the
	// agent proves itself again on the open connection before then.
	MaxSessionLifetime = time.Hour
	// TokenLeeway is the clock leeway for exp, nbf and iat.
	TokenLeeway = 60 * time.Second
	// MaxTokenLifetime caps an OIDC token's remaining lifetime (exp minus
	// now): a longer-lived token is a stolen token's long life. GitHub,
	// GCP and Kubernetes tokens live an hour or less by default.
	MaxTokenLifetime = time.Hour
	// MaxAzureTokenLifetime is the cap for Azure managed-identity tokens,
	// which Azure issues for about 24 hours and does not let callers
	// shorten.
	MaxAzureTokenLifetime = 25 * time.Hour
	// maxResponseBody caps STS answers, discovery documents and JWKS.
	maxResponseBody = 64 << 10
)

// ClockSkewError is a refusal because the proof's time and the server's
// differ by more than MaxClockSkew. It says both, so the operator can see
// whose clock is wrong.
type ClockSkewError struct {
	SignedAt   time.Time // the proof's time (X-Amz-Date)
	ServerTime time.Time
}

func (e *ClockSkewError) Error() string {
	d := e.ServerTime.Sub(e.SignedAt)
	rel := "behind"
	if d < 0 {
		d, rel = -d, "ahead of"
	}
	return fmt.Sprintf("%v: %v: the proof was signed at %s, %s %s the server time %s (allowed ±%s); check the agent's clock",
		ErrRefused, ErrClockSkew, e.SignedAt.UTC().Format(time.RFC3339), d.Round(time.Second), rel,
		e.ServerTime.UTC().Format(time.RFC3339), MaxClockSkew)
}

// Is makes errors.Is(err, ErrClockSkew) and errors.Is(err, ErrRefused) hold.
func (e *ClockSkewError) Is(target error) bool { return target == ErrClockSkew || target == ErrRefused }

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrRefused, fmt.Sprintf(format, args...))
}

func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnavailable, fmt.Sprintf(format, args...))
}

// Identity is a proven identity and the pool it belongs to.
type Identity struct {
	// Kind is KindAWS or KindOIDC.
	Kind string
	// Subject is the canonical ARN (arn:aws:iam::A:role/R) for AWS, and
	// issuer + "#" + sub for OIDC.
	Subject string
	// Pool is the name of the first pool that trusts Subject.
	Pool string
	// Tags are the pool's tags (a copy).
	Tags map[string]string
	// Expires is when the proof stops admitting the agent: the earliest of
	// the credentials' expiry and now + MaxSessionLifetime.
	Expires time.Time
}

// Verifier checks proofs against a Config. It is safe for concurrent use
// and caches issuers' discovery documents and JWKS (OIDCCacheTTL), so keep
// one per process (the edge: one per Durable Object instance).
type Verifier struct {
	cfg     *Config
	fetch   Fetcher
	now     func() time.Time
	issuers *oidcjwt.Issuers
}

// NewVerifier returns a Verifier for cfg that reaches STS and issuers
// through f. now is the clock (time.Now in production).
func NewVerifier(cfg *Config, f Fetcher, now func() time.Time) *Verifier {
	if now == nil {
		now = time.Now
	}
	return &Verifier{cfg: cfg, fetch: f, now: now, issuers: oidcjwt.NewIssuers(f)}
}

// Verify checks p, which answers challenge, and returns the identity it
// proves and its pool. The caller has already checked that challenge is
// one it issued, unexpired, and consumed it (single use); Verify checks
// that p answers that challenge.
func (v *Verifier) Verify(ctx context.Context, p *Proof, challenge string) (Identity, error) {
	if p == nil {
		return Identity{}, fmt.Errorf("%w: no proof", ErrMalformedProof)
	}
	if err := p.validate(); err != nil {
		return Identity{}, err
	}
	if challenge == "" || subtle.ConstantTimeCompare([]byte(p.Challenge), []byte(challenge)) != 1 {
		return Identity{}, refused("the proof answers another challenge; expected the one issued for this connection")
	}
	now := v.now()
	if p.ExpiresUnix != 0 && !time.Unix(p.ExpiresUnix, 0).After(now) {
		return Identity{}, refused("the credentials expired at %s (server time %s)", time.Unix(p.ExpiresUnix, 0).UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	var id Identity
	var err error
	switch p.Kind {
	case KindAWS:
		id, err = v.verifyAWS(ctx, p, challenge, now)
	case KindOIDC:
		id, err = v.verifyOIDC(ctx, p, now)
	}
	if err != nil {
		return Identity{}, err
	}
	if p.ExpiresUnix != 0 {
		if e := time.Unix(p.ExpiresUnix, 0); e.Before(id.Expires) {
			id.Expires = e
		}
	}
	return id, nil
}

func (v *Verifier) withPool(id Identity, pool *Pool) Identity {
	id.Pool = pool.Name
	id.Tags = maps.Clone(pool.Tags)
	if id.Tags == nil {
		id.Tags = map[string]string{}
	}
	return id
}

func noPool(subject string) error {
	return fmt.Errorf("%w: %w: %s; ask an operator to add it to a pool", ErrRefused, ErrNoPool, quote(subject))
}

// MatchRole returns the first pool trusting the canonical role ARN.
func (c *Config) MatchRole(canonicalARN string) (*Pool, bool) {
	for i := range c.Pools {
		for _, r := range c.Pools[i].AWSRoles {
			if r.Matches(canonicalARN) {
				return &c.Pools[i], true
			}
		}
	}
	return nil, false
}

// MatchToken returns the first pool with a rule for provider and issuer
// whose subject and claims match.
func (c *Config) MatchToken(provider, issuer, subject string, claims map[string]string) (*Pool, bool) {
	for i := range c.Pools {
		for _, r := range c.Pools[i].OIDC {
			if r.Provider != provider || r.Issuer != issuer || !r.SubjectMatches(subject) {
				continue
			}
			ok := true
			for k, want := range r.Claims {
				if got, has := claims[k]; !has || got != want {
					ok = false
					break
				}
			}
			if ok {
				return &c.Pools[i], true
			}
		}
	}
	return nil, false
}

// pinned reports whether any pool names issuer.
func (c *Config) pinned(issuer string) bool {
	for _, p := range c.Pools {
		for _, r := range p.OIDC {
			if r.Issuer == issuer {
				return true
			}
		}
	}
	return false
}

var (
	partitions  = map[string]bool{"aws": true, "aws-cn": true, "aws-us-gov": true}
	accountID   = regexp.MustCompile(`^[0-9]{12}$`)
	iamName     = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	iamPrefix   = regexp.MustCompile(`^[\w+=,.@-]{1,63}$`)
	sessionName = regexp.MustCompile(`^[\w+=,.@-]{2,64}$`)
	iamPath     = regexp.MustCompile(`^/(?:[\x21-\x7e]{0,510}/)?$`)
)

type roleARN struct{ Partition, Account, Name string }

// parseRoleARN parses arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME.
func parseRoleARN(s string) (roleARN, error) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "iam" || parts[3] != "" {
		return roleARN{}, fmt.Errorf("%s is not an IAM role ARN; expected arn:aws:iam::ACCOUNT:role/NAME", quote(s))
	}
	if !partitions[parts[1]] {
		return roleARN{}, fmt.Errorf("%s: partition %s; expected aws, aws-cn or aws-us-gov", quote(s), quote(parts[1]))
	}
	if !accountID.MatchString(parts[4]) {
		return roleARN{}, fmt.Errorf("%s: account %s; expected 12 digits", quote(s), quote(parts[4]))
	}
	res, ok := strings.CutPrefix(parts[5], "role/")
	if !ok {
		return roleARN{}, fmt.Errorf("%s is not a role; expected arn:aws:iam::ACCOUNT:role/NAME", quote(s))
	}
	name := res
	if i := strings.LastIndexByte(res, '/'); i >= 0 {
		if !iamPath.MatchString("/" + res[:i+1]) {
			return roleARN{}, fmt.Errorf("%s: role path %s is not valid", quote(s), quote(res[:i+1]))
		}
		name = res[i+1:]
	}
	return roleARN{Partition: parts[1], Account: parts[4], Name: name}, nil
}

// ParseRolePattern parses a pool's trusted role:
// arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME, where NAME may end in * to
// trust every role whose name starts with what precedes it. The path, if
// any, is dropped (see RolePattern).
func ParseRolePattern(s string) (RolePattern, error) {
	prefix := strings.HasSuffix(s, "*")
	r, err := parseRoleARN(strings.TrimSuffix(s, "*"))
	if err != nil {
		return RolePattern{}, err
	}
	if strings.Contains(strings.TrimSuffix(s, "*"), "*") {
		return RolePattern{}, fmt.Errorf("%s has a * before the end; a wildcard is allowed only at the end of the role name", quote(s))
	}
	if prefix {
		if !iamPrefix.MatchString(r.Name) {
			return RolePattern{}, fmt.Errorf("%s: a wildcard needs a role-name prefix before the * (a whole account is too broad); expected role/PREFIX*", quote(s))
		}
	} else if !iamName.MatchString(r.Name) {
		return RolePattern{}, fmt.Errorf("%s: role name %s; expected 1-64 of letters, digits and +=,.@_-", quote(s), quote(r.Name))
	}
	return RolePattern{Partition: r.Partition, Account: r.Account, Name: r.Name, Prefix: prefix}, nil
}

// CanonicalARN maps the ARN GetCallerIdentity returns to the identity a
// pool trusts: an assumed role (arn:P:sts::A:assumed-role/R/SESSION) to
// its role (arn:P:iam::A:role/R) — the session name is the caller's choice
// and grants nothing — and a role ARN with a path to the role without it.
// Other principals (IAM users, federated users, root) are returned as they
// are; no pool can trust them, since pools trust roles only.
func CanonicalARN(arn string) (string, error) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[3] != "" {
		return "", fmt.Errorf("%s is not an ARN of a principal; expected arn:PARTITION:sts::ACCOUNT:assumed-role/ROLE/SESSION", quote(arn))
	}
	partition, service, account, resource := parts[1], parts[2], parts[4], parts[5]
	if !partitions[partition] {
		return "", fmt.Errorf("%s: partition %s; expected aws, aws-cn or aws-us-gov", quote(arn), quote(partition))
	}
	if !accountID.MatchString(account) {
		return "", fmt.Errorf("%s: account %s; expected 12 digits", quote(arn), quote(account))
	}
	switch service {
	case "sts":
		rest, ok := strings.CutPrefix(resource, "assumed-role/")
		if !ok {
			return arn, nil // federated-user and the like
		}
		role, session, ok := strings.Cut(rest, "/")
		if !ok || !iamName.MatchString(role) || !sessionName.MatchString(session) {
			return "", fmt.Errorf("%s: expected assumed-role/ROLE/SESSION", quote(arn))
		}
		return "arn:" + partition + ":iam::" + account + ":role/" + role, nil
	case "iam":
		if strings.HasPrefix(resource, "role/") {
			r, err := parseRoleARN(arn)
			if err != nil {
				return "", err
			}
			if !iamName.MatchString(r.Name) {
				return "", fmt.Errorf("%s: role name %s is not valid", quote(arn), quote(r.Name))
			}
			return "arn:" + partition + ":iam::" + account + ":role/" + r.Name, nil
		}
		return arn, nil
	}
	return "", fmt.Errorf("%s: service %s; expected sts or iam", quote(arn), quote(service))
}
