package sessions

import (
	_ "embed"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/airlockci/airlock/internal/oidcjwt"
	"github.com/airlockci/airlock/internal/yamlconf"
)

// SSOSchema is the JSON Schema (draft 2020-12) of .airlock/sso.yml, for
// editors and CI. LoadConfig enforces everything it says and more (unique
// ids and issuers, duplicate YAML keys, idle_timeout ≤ absolute_lifetime).
//
//go:embed sso.schema.json
var SSOSchema []byte

// MaxConfigSize caps the SSO file.
const MaxConfigSize = 256 << 10

// Defaults and bounds of the session timeouts.
const (
	DefaultIdleTimeout      = 12 * time.Hour
	DefaultAbsoluteLifetime = 7 * 24 * time.Hour
	MinTimeout              = time.Minute
	MaxAbsoluteLifetime     = 90 * 24 * time.Hour
)

// DefaultScopes are asked for when a provider lists none.
var DefaultScopes = []string{"openid", "email", "profile"}

// Config is a loaded .airlock/sso.yml: who may sign in, through which
// identity providers, with which role, for how long.
type Config struct {
	// PublicURL is our own origin as written (no path): the base of the
	// redirect_uri, and the Origin unsafe cookie requests must carry.
	PublicURL string
	// Origin is PublicURL as browsers send it in Origin: scheme://host[:port]
	// in lower case, the default port left out.
	Origin string
	// IdleTimeout ends a session not used for this long; AbsoluteLifetime
	// ends every session this long after sign-in. Both are enforced on
	// every request.
	IdleTimeout      time.Duration
	AbsoluteLifetime time.Duration
	Providers        []Provider
}

// Provider is one OpenID Connect identity provider.
type Provider struct {
	// ID is [a-z0-9-]+, unique; part of user IDs (ID + "#" + sub).
	ID   string
	Name string
	// Issuer is compared exactly with discovery's issuer and ID tokens' iss.
	Issuer   string
	ClientID string
	// ClientSecretEnv names the secret (a Worker secret binding) holding
	// the client secret; "" for a public client (PKCE only).
	ClientSecretEnv string
	Scopes          []string
	// GroupsClaim is the ID token claim listing the user's groups
	// (default "groups").
	GroupsClaim string
	Allow       Allow
	Admins      Admins
}

// Allow says who may sign in: a verified email in one of EmailDomains, or
// membership of one of Groups.
type Allow struct {
	EmailDomains []string // lower case
	Groups       []string
}

// Admins are the allowed users who get the admin role; everyone else
// allowed is a member.
type Admins struct {
	Emails []string // lower case; must be verified
	Groups []string
}

// ConfigError is a problem at one place in the SSO file.
type ConfigError = yamlconf.Error

// LoadConfig parses an SSO file strictly: unknown keys, duplicate keys,
// wrong types, anchors and aliases, and values that cannot be right are
// errors with file:line:column saying what was expected. All problems
// found are returned, joined. Secrets are never in the file: a provider
// names the secret binding that holds its client secret.
//
// The format (see docs/SSO.md and SSOSchema):
//
//	public_url: https://ci.example.com   # required; https (http only for loopback)
//	sessions:                            # optional
//	  idle_timeout: 12h                  # default 12h
//	  absolute_lifetime: 168h            # default 168h, at most 2160h
//	providers:                           # required, at least one
//	  - id: okta                         # [a-z0-9-]+, unique
//	    name: Okta                       # shown on the sign-in page
//	    issuer: https://example.okta.com # exact; unique
//	    client_id: 0oa...
//	    client_secret_env: AIRLOCK_SSO_OKTA_SECRET  # optional
//	    scopes: [openid, email, profile, groups]    # optional; must hold openid
//	    groups_claim: groups                        # optional
//	    allow: {email_domains: [example.com], groups: [eng]}  # at least one rule
//	    admins: {emails: [root@example.com], groups: [airlock-admins]}
func LoadConfig(filename string, src []byte) (*Config, error) {
	root, err := yamlconf.Decode(filename, src, MaxConfigSize, "a mapping with public_url and providers")
	if err != nil {
		return nil, err
	}
	l := &loader{Loader: yamlconf.Loader{File: filename}}
	cfg := l.config(root)
	if err := l.Err(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Provider returns the provider with this id.
func (c *Config) Provider(id string) (*Provider, bool) {
	for i := range c.Providers {
		if c.Providers[i].ID == id {
			return &c.Providers[i], true
		}
	}
	return nil, false
}

var (
	providerID = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)
	envName    = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,127}$`)
	clientID   = regexp.MustCompile(`^[\x21\x23-\x5b\x5d-\x7e]{1,256}$`)
	scopeToken = regexp.MustCompile(`^[\x21\x23-\x5b\x5d-\x7e]{1,64}$`)
	domainName = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$`)
)

func (l *loader) config(root *yaml.Node) *Config {
	cfg := &Config{IdleTimeout: DefaultIdleTimeout, AbsoluteLifetime: DefaultAbsoluteLifetime}
	var sawURL, sawProviders bool
	var timeoutsNode *yaml.Node
	ids := map[string]int{}
	issuers := map[string]int{}
	l.Fields(root, "the file", map[string]func(k, v *yaml.Node){
		"public_url": func(_, v *yaml.Node) {
			sawURL = true
			s, ok := l.Str(v, "public_url")
			if !ok {
				return
			}
			origin, err := parseOrigin(s)
			if err != nil {
				l.Errorf(v, "public_url: %v", err)
				return
			}
			cfg.PublicURL, cfg.Origin = strings.TrimSuffix(s, "/"), origin
		},
		"sessions": func(_, v *yaml.Node) {
			timeoutsNode = v
			l.Fields(v, "sessions", map[string]func(k, v *yaml.Node){
				"idle_timeout": func(_, v *yaml.Node) {
					if d, ok := l.duration(v, "sessions.idle_timeout", MaxAbsoluteLifetime); ok {
						cfg.IdleTimeout = d
					}
				},
				"absolute_lifetime": func(_, v *yaml.Node) {
					if d, ok := l.duration(v, "sessions.absolute_lifetime", MaxAbsoluteLifetime); ok {
						cfg.AbsoluteLifetime = d
					}
				},
			})
		},
		"providers": func(_, v *yaml.Node) {
			sawProviders = true
			l.List(v, "providers", func(i int, item *yaml.Node) {
				p := l.provider(item, i)
				if p == nil {
					return
				}
				if first, dup := ids[p.ID]; dup {
					l.Errorf(item, "providers[%d]: id %q is already used by providers[%d]; ids must be unique", i, p.ID, first)
					return
				}
				if first, dup := issuers[p.Issuer]; dup {
					l.Errorf(item, "providers[%d]: issuer %q is already used by providers[%d]; one provider per issuer (the issuer tells providers apart)", i, p.Issuer, first)
					return
				}
				ids[p.ID], issuers[p.Issuer] = i, i
				cfg.Providers = append(cfg.Providers, *p)
			})
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				l.Errorf(v, "providers is empty; expected at least one identity provider")
			}
		},
	})
	if root.Kind == yaml.MappingNode {
		if !sawURL {
			l.Errorf(root, "public_url is missing; expected our own origin, such as https://ci.example.com")
		}
		if !sawProviders {
			l.Errorf(root, "providers is missing; expected a list of identity providers")
		}
	} else if l.NumErrors() == 0 {
		l.Errorf(root, "the file is %s; expected a mapping with public_url and providers", yamlconf.KindName(root))
	}
	if cfg.IdleTimeout > cfg.AbsoluteLifetime {
		l.Errorf(timeoutsNode, "sessions.idle_timeout %s is longer than sessions.absolute_lifetime %s; expected at most the absolute lifetime", cfg.IdleTimeout, cfg.AbsoluteLifetime)
	}
	return cfg
}

func (l *loader) duration(v *yaml.Node, where string, maxD time.Duration) (time.Duration, bool) {
	s, ok := l.Str(v, where)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		l.Errorf(v, "%s %q is not a duration; expected a Go duration such as 12h or 30m", where, s)
		return 0, false
	}
	if d < MinTimeout || d > maxD {
		l.Errorf(v, "%s %s; expected between %s and %s", where, d, MinTimeout, maxD)
		return 0, false
	}
	return d, true
}

func (l *loader) provider(n *yaml.Node, i int) *Provider {
	where := fmt.Sprintf("providers[%d]", i)
	p := &Provider{GroupsClaim: "groups"}
	errsBefore := l.NumErrors()
	var sawAllow bool
	l.Fields(n, where, map[string]func(k, v *yaml.Node){
		"id": func(_, v *yaml.Node) {
			if s, ok := l.Str(v, where+".id"); ok {
				if !providerID.MatchString(s) {
					l.Errorf(v, "%s.id %q; expected lower-case letters, digits and '-', starting with a letter or digit, at most 32", where, s)
					return
				}
				p.ID = s
			}
		},
		"name": func(_, v *yaml.Node) {
			if s, ok := l.Str(v, where+".name"); ok {
				if len(s) > 64 || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
					l.Errorf(v, "%s.name: expected at most 64 printable characters", where)
					return
				}
				p.Name = s
			}
		},
		"issuer": func(_, v *yaml.Node) {
			if s, ok := l.Str(v, where+".issuer"); ok {
				if err := checkIssuer(s); err != nil {
					l.Errorf(v, "%s.issuer: %v", where, err)
					return
				}
				p.Issuer = s
			}
		},
		"client_id": func(_, v *yaml.Node) {
			if s, ok := l.Str(v, where+".client_id"); ok {
				if !clientID.MatchString(s) {
					l.Errorf(v, "%s.client_id %q; expected at most 256 printable ASCII characters without spaces, quotes or backslashes", where, s)
					return
				}
				p.ClientID = s
			}
		},
		"client_secret_env": func(_, v *yaml.Node) {
			if s, ok := l.Str(v, where+".client_secret_env"); ok {
				if !envName.MatchString(s) {
					l.Errorf(v, "%s.client_secret_env %q; expected the name of a secret binding such as AIRLOCK_SSO_OKTA_SECRET (upper-case letters, digits, _), never the secret itself", where, s)
					return
				}
				p.ClientSecretEnv = s
			}
		},
		"scopes": func(_, v *yaml.Node) {
			p.Scopes = l.StringList(v, where+".scopes", func(s string) error {
				if !scopeToken.MatchString(s) {
					return fmt.Errorf("expected a scope token (printable, no spaces, quotes or backslashes)")
				}
				return nil
			})
			if v.Kind == yaml.SequenceNode && !contains(p.Scopes, "openid") {
				l.Errorf(v, "%s.scopes has no openid; expected openid among the scopes (it is what makes the provider send an ID token)", where)
			}
		},
		"groups_claim": func(_, v *yaml.Node) {
			if s, ok := l.Str(v, where+".groups_claim"); ok {
				p.GroupsClaim = s
			}
		},
		"allow": func(_, v *yaml.Node) {
			sawAllow = true
			l.Fields(v, where+".allow", map[string]func(k, v *yaml.Node){
				"email_domains": func(_, v *yaml.Node) {
					p.Allow.EmailDomains = l.StringList(v, where+".allow.email_domains", func(s string) error {
						if !domainName.MatchString(s) {
							return fmt.Errorf("expected a lower-case domain name such as example.com (no @, no wildcard)")
						}
						return nil
					})
				},
				"groups": func(_, v *yaml.Node) {
					p.Allow.Groups = l.StringList(v, where+".allow.groups", nil)
				},
			})
			if v.Kind == yaml.MappingNode && len(p.Allow.EmailDomains) == 0 && len(p.Allow.Groups) == 0 && l.NumErrors() == errsBefore {
				l.Errorf(v, "%s.allow has no rule; expected email_domains or groups (at least one entry)", where)
			}
		},
		"admins": func(_, v *yaml.Node) {
			l.Fields(v, where+".admins", map[string]func(k, v *yaml.Node){
				"emails": func(_, v *yaml.Node) {
					p.Admins.Emails = l.StringList(v, where+".admins.emails", func(s string) error {
						at := strings.LastIndexByte(s, '@')
						if at < 1 || s != strings.ToLower(s) || !domainName.MatchString(s[at+1:]) {
							return fmt.Errorf("expected a lower-case email address")
						}
						return nil
					})
				},
				"groups": func(_, v *yaml.Node) {
					p.Admins.Groups = l.StringList(v, where+".admins.groups", nil)
				},
			})
		},
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for _, f := range []struct{ name, val string }{{"id", p.ID}, {"name", p.Name}, {"issuer", p.Issuer}, {"client_id", p.ClientID}} {
		if f.val == "" && l.NumErrors() == errsBefore {
			l.Errorf(n, "%s has no %s; expected id, name, issuer, client_id and allow", where, f.name)
		}
	}
	if !sawAllow && l.NumErrors() == errsBefore {
		l.Errorf(n, "%s has no allow; expected allow: with email_domains or groups (nobody may sign in otherwise)", where)
	}
	if len(p.Scopes) == 0 {
		p.Scopes = append([]string(nil), DefaultScopes...)
	}
	if l.NumErrors() > errsBefore {
		return nil
	}
	return p
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// parseOrigin checks public_url (https, or http on a loopback host; no
// path, query, fragment or user info) and returns its origin as browsers
// serialise it.
func parseOrigin(s string) (string, error) {
	if err := oidcjwt.CheckASCIIURL(s); err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return "", fmt.Errorf("%q is not an absolute URL; expected https://host[:port]", s)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && oidcjwt.IsLoopbackHost(u.Hostname())) {
		return "", fmt.Errorf("%q: expected https (http only for 127.0.0.1, localhost or [::1])", s)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || (u.Path != "" && u.Path != "/") {
		return "", fmt.Errorf("%q has a path, query, fragment or user info; expected the origin only, https://host[:port]", s)
	}
	host := strings.ToLower(u.Hostname())
	if host == "" || strings.HasSuffix(host, ".") {
		return "", fmt.Errorf("%q: host %q; expected a fully qualified name without a trailing dot", s, host)
	}
	port := u.Port()
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q: port %q; expected 1-65535", s, port)
		}
		if (u.Scheme == "https" && n == 443) || (u.Scheme == "http" && n == 80) {
			port = ""
		}
	}
	origin := u.Scheme + "://" + host
	if strings.Contains(host, ":") {
		origin = u.Scheme + "://[" + host + "]"
	}
	if port != "" {
		origin += ":" + port
	}
	return origin, nil
}

// checkIssuer: https (http only on loopback), no query, fragment or user
// info; kept exactly as written, since iss is compared byte for byte.
func checkIssuer(s string) error {
	if err := oidcjwt.CheckASCIIURL(s); err != nil {
		return err
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return fmt.Errorf("%q is not an absolute URL; expected https://host[/path]", s)
	}
	if u.Scheme != "https" && !(u.Scheme == "http" && oidcjwt.IsLoopbackHost(u.Hostname())) {
		return fmt.Errorf("%q: expected https (http only for 127.0.0.1, localhost or [::1])", s)
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(s, "?#") {
		return fmt.Errorf("%q has a query, fragment or user info; expected none", s)
	}
	return nil
}

// loader reads sso.yml; its shape follows identity.LoadConfig's.
type loader struct {
	yamlconf.Loader
}
