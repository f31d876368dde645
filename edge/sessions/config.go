package sessions

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/airlockci/airlock/internal/oidcjwt"
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
type ConfigError struct {
	File         string
	Line, Column int // 1-based; 0 when unknown
	Msg          string
}

func (e *ConfigError) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

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
	l := &loader{file: filename}
	if len(src) > MaxConfigSize {
		return nil, &ConfigError{File: filename, Msg: fmt.Sprintf("file is %d bytes; expected at most %d", len(src), MaxConfigSize)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(strings.NewReader(string(src)))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, &ConfigError{File: filename, Msg: "empty file; expected a mapping with public_url and providers"}
		}
		return nil, l.yamlError(err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, l.yamlError(err)
		}
		return nil, &ConfigError{File: filename, Line: extra.Line, Column: extra.Column, Msg: "a second YAML document; expected one"}
	}
	cfg := l.config(&doc)
	if len(l.errs) > 0 {
		return nil, errors.Join(l.errs...)
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

func (l *loader) config(doc *yaml.Node) *Config {
	cfg := &Config{IdleTimeout: DefaultIdleTimeout, AbsoluteLifetime: DefaultAbsoluteLifetime}
	root := doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	var sawURL, sawProviders bool
	var timeoutsNode *yaml.Node
	ids := map[string]int{}
	issuers := map[string]int{}
	l.fields(root, "the file", map[string]func(k, v *yaml.Node){
		"public_url": func(_, v *yaml.Node) {
			sawURL = true
			s, ok := l.str(v, "public_url")
			if !ok {
				return
			}
			origin, err := parseOrigin(s)
			if err != nil {
				l.errorf(v, "public_url: %v", err)
				return
			}
			cfg.PublicURL, cfg.Origin = strings.TrimSuffix(s, "/"), origin
		},
		"sessions": func(_, v *yaml.Node) {
			timeoutsNode = v
			l.fields(v, "sessions", map[string]func(k, v *yaml.Node){
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
			l.list(v, "providers", func(i int, item *yaml.Node) {
				p := l.provider(item, i)
				if p == nil {
					return
				}
				if first, dup := ids[p.ID]; dup {
					l.errorf(item, "providers[%d]: id %q is already used by providers[%d]; ids must be unique", i, p.ID, first)
					return
				}
				if first, dup := issuers[p.Issuer]; dup {
					l.errorf(item, "providers[%d]: issuer %q is already used by providers[%d]; one provider per issuer (the issuer tells providers apart)", i, p.Issuer, first)
					return
				}
				ids[p.ID], issuers[p.Issuer] = i, i
				cfg.Providers = append(cfg.Providers, *p)
			})
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				l.errorf(v, "providers is empty; expected at least one identity provider")
			}
		},
	})
	if root.Kind == yaml.MappingNode {
		if !sawURL {
			l.errorf(root, "public_url is missing; expected our own origin, such as https://ci.example.com")
		}
		if !sawProviders {
			l.errorf(root, "providers is missing; expected a list of identity providers")
		}
	} else if len(l.errs) == 0 {
		l.errorf(root, "the file is %s; expected a mapping with public_url and providers", kindName(root))
	}
	if cfg.IdleTimeout > cfg.AbsoluteLifetime {
		l.errorf(timeoutsNode, "sessions.idle_timeout %s is longer than sessions.absolute_lifetime %s; expected at most the absolute lifetime", cfg.IdleTimeout, cfg.AbsoluteLifetime)
	}
	return cfg
}

func (l *loader) duration(v *yaml.Node, where string, maxD time.Duration) (time.Duration, bool) {
	s, ok := l.str(v, where)
	if !ok {
		return 0, false
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		l.errorf(v, "%s %q is not a duration; expected a Go duration such as 12h or 30m", where, s)
		return 0, false
	}
	if d < MinTimeout || d > maxD {
		l.errorf(v, "%s %s; expected between %s and %s", where, d, MinTimeout, maxD)
		return 0, false
	}
	return d, true
}

func (l *loader) provider(n *yaml.Node, i int) *Provider {
	where := fmt.Sprintf("providers[%d]", i)
	p := &Provider{GroupsClaim: "groups"}
	errsBefore := len(l.errs)
	var sawAllow bool
	l.fields(n, where, map[string]func(k, v *yaml.Node){
		"id": func(_, v *yaml.Node) {
			if s, ok := l.str(v, where+".id"); ok {
				if !providerID.MatchString(s) {
					l.errorf(v, "%s.id %q; expected lower-case letters, digits and '-', starting with a letter or digit, at most 32", where, s)
					return
				}
				p.ID = s
			}
		},
		"name": func(_, v *yaml.Node) {
			if s, ok := l.str(v, where+".name"); ok {
				if len(s) > 64 || strings.ContainsFunc(s, func(r rune) bool { return r < ' ' || r == 0x7f }) {
					l.errorf(v, "%s.name: expected at most 64 printable characters", where)
					return
				}
				p.Name = s
			}
		},
		"issuer": func(_, v *yaml.Node) {
			if s, ok := l.str(v, where+".issuer"); ok {
				if err := checkIssuer(s); err != nil {
					l.errorf(v, "%s.issuer: %v", where, err)
					return
				}
				p.Issuer = s
			}
		},
		"client_id": func(_, v *yaml.Node) {
			if s, ok := l.str(v, where+".client_id"); ok {
				if !clientID.MatchString(s) {
					l.errorf(v, "%s.client_id %q; expected at most 256 printable ASCII characters without spaces, quotes or backslashes", where, s)
					return
				}
				p.ClientID = s
			}
		},
		"client_secret_env": func(_, v *yaml.Node) {
			if s, ok := l.str(v, where+".client_secret_env"); ok {
				if !envName.MatchString(s) {
					l.errorf(v, "%s.client_secret_env %q; expected the name of a secret binding such as AIRLOCK_SSO_OKTA_SECRET (upper-case letters, digits, _), never the secret itself", where, s)
					return
				}
				p.ClientSecretEnv = s
			}
		},
		"scopes": func(_, v *yaml.Node) {
			p.Scopes = l.stringList(v, where+".scopes", func(s string) error {
				if !scopeToken.MatchString(s) {
					return fmt.Errorf("expected a scope token (printable, no spaces, quotes or backslashes)")
				}
				return nil
			})
			if v.Kind == yaml.SequenceNode && !contains(p.Scopes, "openid") {
				l.errorf(v, "%s.scopes has no openid; expected openid among the scopes (it is what makes the provider send an ID token)", where)
			}
		},
		"groups_claim": func(_, v *yaml.Node) {
			if s, ok := l.str(v, where+".groups_claim"); ok {
				p.GroupsClaim = s
			}
		},
		"allow": func(_, v *yaml.Node) {
			sawAllow = true
			l.fields(v, where+".allow", map[string]func(k, v *yaml.Node){
				"email_domains": func(_, v *yaml.Node) {
					p.Allow.EmailDomains = l.stringList(v, where+".allow.email_domains", func(s string) error {
						if !domainName.MatchString(s) {
							return fmt.Errorf("expected a lower-case domain name such as example.com (no @, no wildcard)")
						}
						return nil
					})
				},
				"groups": func(_, v *yaml.Node) {
					p.Allow.Groups = l.stringList(v, where+".allow.groups", nil)
				},
			})
			if v.Kind == yaml.MappingNode && len(p.Allow.EmailDomains) == 0 && len(p.Allow.Groups) == 0 && len(l.errs) == errsBefore {
				l.errorf(v, "%s.allow has no rule; expected email_domains or groups (at least one entry)", where)
			}
		},
		"admins": func(_, v *yaml.Node) {
			l.fields(v, where+".admins", map[string]func(k, v *yaml.Node){
				"emails": func(_, v *yaml.Node) {
					p.Admins.Emails = l.stringList(v, where+".admins.emails", func(s string) error {
						at := strings.LastIndexByte(s, '@')
						if at < 1 || s != strings.ToLower(s) || !domainName.MatchString(s[at+1:]) {
							return fmt.Errorf("expected a lower-case email address")
						}
						return nil
					})
				},
				"groups": func(_, v *yaml.Node) {
					p.Admins.Groups = l.stringList(v, where+".admins.groups", nil)
				},
			})
		},
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for _, f := range []struct{ name, val string }{{"id", p.ID}, {"name", p.Name}, {"issuer", p.Issuer}, {"client_id", p.ClientID}} {
		if f.val == "" && len(l.errs) == errsBefore {
			l.errorf(n, "%s has no %s; expected id, name, issuer, client_id and allow", where, f.name)
		}
	}
	if !sawAllow && len(l.errs) == errsBefore {
		l.errorf(n, "%s has no allow; expected allow: with email_domains or groups (nobody may sign in otherwise)", where)
	}
	if len(p.Scopes) == 0 {
		p.Scopes = append([]string(nil), DefaultScopes...)
	}
	if len(l.errs) > errsBefore {
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

// loader is a strict YAML walker; its shape follows identity.LoadConfig's.
type loader struct {
	file string
	errs []error
}

const maxConfigErrors = 20

func (l *loader) errorf(n *yaml.Node, format string, args ...any) {
	if len(l.errs) == maxConfigErrors {
		l.errs = append(l.errs, &ConfigError{File: l.file, Msg: "too many errors"})
	}
	if len(l.errs) > maxConfigErrors {
		return
	}
	e := &ConfigError{File: l.file, Msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.Line, e.Column = n.Line, n.Column
	}
	l.errs = append(l.errs, e)
}

var yamlLine = regexp.MustCompile(`^yaml: (?:line (\d+): )?(.*)$`)

func (l *loader) yamlError(err error) error {
	m := yamlLine.FindStringSubmatch(err.Error())
	if m == nil {
		return &ConfigError{File: l.file, Msg: err.Error()}
	}
	line, _ := strconv.Atoi(m[1])
	return &ConfigError{File: l.file, Line: line, Msg: "invalid YAML: " + m[2]}
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	case yaml.ScalarNode:
		switch n.Tag {
		case "!!str":
			return "a string"
		case "!!int", "!!float":
			return "a number"
		case "!!bool":
			return "a boolean"
		case "!!null":
			return "null"
		}
		return "a " + strings.TrimPrefix(n.Tag, "!!")
	}
	return "nothing"
}

// plain refuses anchors, aliases, merge keys and custom tags.
func (l *loader) plain(n *yaml.Node) bool {
	if n.Kind == yaml.AliasNode {
		l.errorf(n, "alias *%s; aliases are not allowed, write the value out", n.Value)
		return false
	}
	if n.Anchor != "" {
		l.errorf(n, "anchor &%s; anchors are not allowed", n.Anchor)
		return false
	}
	if n.Tag == "!!merge" {
		l.errorf(n, "merge key <<; merge keys are not allowed")
		return false
	}
	return true
}

func (l *loader) fields(n *yaml.Node, where string, handlers map[string]func(key, val *yaml.Node)) {
	if !l.plain(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.errorf(n, "%s is %s; expected a mapping", where, kindName(n))
		return
	}
	seen := map[string]*yaml.Node{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !l.plain(k) || !l.plain(v) {
			continue
		}
		if k.Kind != yaml.ScalarNode || k.Tag != "!!str" {
			l.errorf(k, "key in %s is %s; expected a string", where, kindName(k))
			continue
		}
		if prev, ok := seen[k.Value]; ok {
			l.errorf(k, "duplicate key %q in %s (first at line %d)", k.Value, where, prev.Line)
			continue
		}
		seen[k.Value] = k
		h, ok := handlers[k.Value]
		if !ok {
			l.errorf(k, "unknown key %q in %s; expected one of %s", k.Value, where, keyList(handlers))
			continue
		}
		h(k, v)
	}
}

func keyList(handlers map[string]func(key, val *yaml.Node)) string {
	var keys []string
	for k := range handlers {
		keys = append(keys, k)
	}
	for i := 1; i < len(keys); i++ {
		for j := i; j > 0 && keys[j] < keys[j-1]; j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
	return strings.Join(keys, ", ")
}

func (l *loader) str(n *yaml.Node, where string) (string, bool) {
	if !l.plain(n) {
		return "", false
	}
	if n.Kind != yaml.ScalarNode || n.Tag != "!!str" {
		l.errorf(n, "%s is %s; expected a string", where, kindName(n))
		return "", false
	}
	if n.Value == "" {
		l.errorf(n, "%s is empty; expected a value", where)
		return "", false
	}
	return n.Value, true
}

func (l *loader) list(n *yaml.Node, where string, each func(i int, item *yaml.Node)) {
	if !l.plain(n) {
		return
	}
	if n.Kind != yaml.SequenceNode {
		l.errorf(n, "%s is %s; expected a list", where, kindName(n))
		return
	}
	for i, item := range n.Content {
		each(i, item)
	}
}

// stringList is a non-empty list of unique non-empty strings, each passing
// check (when given).
func (l *loader) stringList(n *yaml.Node, where string, check func(string) error) []string {
	var out []string
	seen := map[string]bool{}
	l.list(n, where, func(i int, item *yaml.Node) {
		w := fmt.Sprintf("%s[%d]", where, i)
		s, ok := l.str(item, w)
		if !ok {
			return
		}
		if check != nil {
			if err := check(s); err != nil {
				l.errorf(item, "%s %q: %v", w, s, err)
				return
			}
		}
		if seen[s] {
			l.errorf(item, "%s: %q is listed twice", w, s)
			return
		}
		seen[s] = true
		out = append(out, s)
	})
	if n.Kind == yaml.SequenceNode && len(n.Content) == 0 {
		l.errorf(n, "%s is empty; expected at least one entry, or leave it out", where)
	}
	return out
}
