package identity

import (
	_ "embed"
	"fmt"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/airlockci/airlock/internal/oidcjwt"
	"github.com/airlockci/airlock/internal/yamlconf"
)

// PoolsSchema is the JSON Schema (draft 2020-12) of the pools file, for
// editors and CI. LoadConfig enforces everything it says and more (unique
// pool names, duplicate YAML keys).
//
//go:embed pools.schema.json
var PoolsSchema []byte

// MaxConfigSize caps the pools file.
const MaxConfigSize = 1 << 20

// Config is a loaded pools file: who may connect as an agent, and as
// which pool.
type Config struct {
	// Audience is what OIDC tokens must carry in aud.
	Audience string
	// STSEndpoints are the STS endpoints an AWS proof may be addressed to,
	// each "scheme://host[:port]" in lower case.
	STSEndpoints []string
	// Pools in file order; the first pool that matches an identity wins.
	Pools []Pool
}

// Pool is an agent pool and the identities trusted to join it.
type Pool struct {
	Name string
	// Tags are given to every agent of the pool, overriding its own.
	Tags     map[string]string
	AWSRoles []RolePattern
	OIDC     []OIDCRule
}

// RolePattern is a trusted IAM role: partition, account and role name,
// the name possibly ending in * (a prefix). A role path in the file is
// accepted and ignored: names are unique in an account, and the
// assumed-role ARN STS returns has no path.
type RolePattern struct {
	Partition string
	Account   string
	Name      string
	Prefix    bool
}

func (r RolePattern) String() string {
	s := "arn:" + r.Partition + ":iam::" + r.Account + ":role/" + r.Name
	if r.Prefix {
		s += "*"
	}
	return s
}

// Matches reports whether the canonical role ARN arn is trusted.
func (r RolePattern) Matches(arn string) bool {
	a, err := parseRoleARN(arn)
	if err != nil || a.Partition != r.Partition || a.Account != r.Account {
		return false
	}
	if r.Prefix {
		return strings.HasPrefix(a.Name, r.Name)
	}
	return a.Name == r.Name
}

// OIDCRule trusts tokens of one pinned issuer whose subject and claims
// match.
type OIDCRule struct {
	Provider string
	// Issuer is matched exactly against iss.
	Issuer string
	// Subject is the sub, exact or ending in * (a non-empty prefix).
	Subject string
	// Claims must all be present in the token with exactly these values
	// (top-level claims; a JSON string, or a boolean or number whose JSON
	// text is the value).
	Claims map[string]string
}

// SubjectMatches reports whether sub matches the rule's subject pattern.
func (r OIDCRule) SubjectMatches(sub string) bool {
	return matchPattern(r.Subject, sub)
}

func matchPattern(pattern, s string) bool {
	if p, ok := strings.CutSuffix(pattern, "*"); ok {
		return strings.HasPrefix(s, p)
	}
	return s == pattern
}

// ConfigError is a problem at one place in the pools file.
type ConfigError = yamlconf.Error

// DefaultSTSHosts are AWS's STS hosts: the global endpoint and every
// regional one, by exact name. A pools file may replace the list (for a
// FIPS or dual-stack endpoint, or the local test STS).
var DefaultSTSHosts = defaultSTSHosts()

func defaultSTSHosts() []string {
	hosts := []string{"sts.amazonaws.com"}
	for _, r := range []string{
		"us-east-1", "us-east-2", "us-west-1", "us-west-2",
		"af-south-1", "ap-east-1", "ap-east-2", "ap-south-1", "ap-south-2",
		"ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
		"ap-southeast-5", "ap-southeast-6", "ap-southeast-7",
		"ap-northeast-1", "ap-northeast-2", "ap-northeast-3",
		"ca-central-1", "ca-west-1",
		"eu-central-1", "eu-central-2", "eu-west-1", "eu-west-2", "eu-west-3",
		"eu-south-1", "eu-south-2", "eu-north-1",
		"il-central-1", "me-south-1", "me-central-1", "mx-central-1", "sa-east-1",
		"us-gov-east-1", "us-gov-west-1",
	} {
		hosts = append(hosts, "sts."+r+".amazonaws.com")
	}
	return append(hosts, "sts.cn-north-1.amazonaws.com.cn", "sts.cn-northwest-1.amazonaws.com.cn")
}

// LoadConfig parses a pools file strictly: unknown keys, duplicate keys,
// wrong types, anchors and aliases, and values that cannot be right are
// errors with file:line:column. All problems found are returned, joined.
//
// The format:
//
//	audience: airlock.example.com      # required: aud of OIDC tokens
//	aws:                               # optional
//	  sts_endpoints:                   # default: DefaultSTSHosts over https
//	    - https://sts.amazonaws.com
//	pools:                             # required, at least one
//	  - name: linux                    # [a-z0-9][a-z0-9._-]*, unique
//	    tags: {queue: default}         # optional, given to every agent
//	    aws:
//	      roles:                       # arn:PARTITION:iam::ACCOUNT:role/[PATH/]NAME[*]
//	        - arn:aws:iam::123456789012:role/airlock-agent
//	    oidc:
//	      - provider: github           # github | gcp | azure | kubernetes
//	        issuer: https://token.actions.githubusercontent.com
//	        subject: "repo:acme/app:*" # exact, or a non-empty prefix and *
//	        claims: {repository_owner: acme}
//
// URLs must be https, or http on a loopback host (127.0.0.1, localhost,
// [::1]) for local development; they may not carry user info, a query or a
// fragment, and endpoints no path.
func LoadConfig(filename string, src []byte) (*Config, error) {
	root, err := yamlconf.Decode(filename, src, MaxConfigSize, "a mapping with audience and pools")
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

// loader reads a pools file.
type loader struct {
	yamlconf.Loader
}

func (l *loader) config(root *yaml.Node) *Config {
	cfg := &Config{}
	var sawAudience, sawPools, sawEndpoints bool
	names := map[string]int{}
	l.Fields(root, "the file", map[string]func(k, v *yaml.Node){
		"audience": func(_, v *yaml.Node) {
			sawAudience = true
			if s, ok := l.Str(v, "audience"); ok {
				if strings.TrimSpace(s) != s || strings.ContainsAny(s, " \t\r\n") {
					l.Errorf(v, "audience %q has whitespace; expected a single token such as airlock.example.com", s)
					return
				}
				cfg.Audience = s
			}
		},
		"aws": func(_, v *yaml.Node) {
			l.Fields(v, "aws", map[string]func(k, v *yaml.Node){
				"sts_endpoints": func(_, v *yaml.Node) {
					sawEndpoints = true
					seen := map[string]bool{}
					l.List(v, "aws.sts_endpoints", func(i int, item *yaml.Node) {
						s, ok := l.Str(item, fmt.Sprintf("aws.sts_endpoints[%d]", i))
						if !ok {
							return
						}
						ep, err := parseEndpoint(s, false)
						if err != nil {
							l.Errorf(item, "aws.sts_endpoints[%d]: %v", i, err)
							return
						}
						if seen[ep] {
							l.Errorf(item, "aws.sts_endpoints[%d]: %s is listed twice", i, ep)
							return
						}
						seen[ep] = true
						cfg.STSEndpoints = append(cfg.STSEndpoints, ep)
					})
					if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
						l.Errorf(v, "aws.sts_endpoints is empty; expected at least one endpoint, or leave it out for AWS's own")
					}
				},
			})
		},
		"pools": func(_, v *yaml.Node) {
			sawPools = true
			l.List(v, "pools", func(i int, item *yaml.Node) {
				p := l.pool(item, i)
				if p == nil {
					return
				}
				if first, dup := names[p.Name]; dup {
					l.Errorf(item, "pools[%d]: name %q is already used by pools[%d]; names must be unique", i, p.Name, first)
					return
				}
				names[p.Name] = i
				cfg.Pools = append(cfg.Pools, *p)
			})
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				l.Errorf(v, "pools is empty; expected at least one pool")
			}
		},
	})
	if root.Kind == yaml.MappingNode {
		if !sawAudience {
			l.Errorf(root, "audience is missing; expected the audience OIDC tokens are issued for, such as airlock.example.com")
		}
		if !sawPools {
			l.Errorf(root, "pools is missing; expected a list of agent pools")
		}
	}
	if !sawEndpoints {
		for _, h := range DefaultSTSHosts {
			cfg.STSEndpoints = append(cfg.STSEndpoints, "https://"+h)
		}
	}
	return cfg
}

var poolName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

func (l *loader) pool(n *yaml.Node, i int) *Pool {
	where := fmt.Sprintf("pools[%d]", i)
	p := &Pool{Tags: map[string]string{}}
	sawName := false
	errsBefore := l.NumErrors()
	l.Fields(n, where, map[string]func(k, v *yaml.Node){
		"name": func(_, v *yaml.Node) {
			sawName = true
			if s, ok := l.Str(v, where+".name"); ok {
				if !poolName.MatchString(s) {
					l.Errorf(v, "%s.name %q; expected lower-case letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63", where, s)
					return
				}
				p.Name = s
			}
		},
		"tags": func(_, v *yaml.Node) {
			p.Tags = l.StringMap(v, where+".tags")
		},
		"aws": func(_, v *yaml.Node) {
			sawRoles := false
			l.Fields(v, where+".aws", map[string]func(k, v *yaml.Node){
				"roles": func(_, v *yaml.Node) {
					sawRoles = true
					if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
						l.Errorf(v, "%s.aws.roles is empty; expected at least one role ARN, or leave aws out", where)
					}
					l.List(v, where+".aws.roles", func(j int, item *yaml.Node) {
						w := fmt.Sprintf("%s.aws.roles[%d]", where, j)
						s, ok := l.Str(item, w)
						if !ok {
							return
						}
						r, err := ParseRolePattern(s)
						if err != nil {
							l.Errorf(item, "%s: %v", w, err)
							return
						}
						p.AWSRoles = append(p.AWSRoles, r)
					})
				},
			})
			if v.Kind == yaml.MappingNode && !sawRoles {
				l.Errorf(v, "%s.aws has no roles; expected roles: with at least one role ARN", where)
			}
		},
		"oidc": func(_, v *yaml.Node) {
			if v.Kind == yaml.SequenceNode && len(v.Content) == 0 {
				l.Errorf(v, "%s.oidc is empty; expected at least one rule, or leave oidc out", where)
			}
			l.List(v, where+".oidc", func(j int, item *yaml.Node) {
				if r, ok := l.oidcRule(item, fmt.Sprintf("%s.oidc[%d]", where, j)); ok {
					p.OIDC = append(p.OIDC, r)
				}
			})
		},
	})
	if n.Kind != yaml.MappingNode {
		return nil
	}
	if !sawName {
		l.Errorf(n, "%s has no name; expected name: followed by the pool's name", where)
		return nil
	}
	if len(p.AWSRoles) == 0 && len(p.OIDC) == 0 && l.NumErrors() == errsBefore {
		l.Errorf(n, "%s (%s) trusts nobody; expected aws.roles or oidc rules", where, p.Name)
	}
	return p
}

func (l *loader) oidcRule(n *yaml.Node, where string) (OIDCRule, bool) {
	var r OIDCRule
	ok := true
	fail := func() { ok = false }
	l.Fields(n, where, map[string]func(k, v *yaml.Node){
		"provider": func(_, v *yaml.Node) {
			s, good := l.Str(v, where+".provider")
			switch {
			case !good:
				fail()
			case s == ProviderGitHub || s == ProviderGCP || s == ProviderAzure || s == ProviderKubernetes:
				r.Provider = s
			default:
				l.Errorf(v, "%s.provider %q; expected github, gcp, azure or kubernetes", where, s)
				fail()
			}
		},
		"issuer": func(_, v *yaml.Node) {
			s, good := l.Str(v, where+".issuer")
			if !good {
				fail()
				return
			}
			if _, err := parseEndpoint(s, true); err != nil {
				l.Errorf(v, "%s.issuer: %v", where, err)
				fail()
				return
			}
			r.Issuer = s
		},
		"subject": func(_, v *yaml.Node) {
			s, good := l.Str(v, where+".subject")
			if !good {
				fail()
				return
			}
			if err := checkPattern(s); err != nil {
				l.Errorf(v, "%s.subject: %v", where, err)
				fail()
				return
			}
			r.Subject = s
		},
		"claims": func(_, v *yaml.Node) {
			r.Claims = l.StringMap(v, where+".claims")
		},
	})
	if n.Kind != yaml.MappingNode {
		return r, false
	}
	for _, f := range []struct{ name, val string }{{"provider", r.Provider}, {"issuer", r.Issuer}, {"subject", r.Subject}} {
		if f.val == "" && ok {
			l.Errorf(n, "%s has no %s; expected provider, issuer and subject", where, f.name)
			ok = false
		}
	}
	if r.Claims == nil {
		r.Claims = map[string]string{}
	}
	for _, reserved := range []string{"iss", "sub", "aud", "exp", "nbf", "iat"} {
		if _, has := r.Claims[reserved]; has {
			l.Errorf(n, "%s.claims: %s is checked by the verifier; use issuer/subject, not claims", where, reserved)
			ok = false
		}
	}
	return r, ok
}

// checkPattern accepts an exact value or a non-empty prefix followed by a
// single trailing *. A lone * would trust every subject of an issuer (for
// GitHub: every repository in the world).
func checkPattern(s string) error {
	body, wild := strings.CutSuffix(s, "*")
	if strings.Contains(body, "*") {
		return fmt.Errorf("%q has a * before the end; a wildcard is allowed only at the end", s)
	}
	if wild && body == "" {
		return fmt.Errorf("%q alone would trust every subject; expected a prefix before the *", s)
	}
	return nil
}

// isLoopbackHost: see oidcjwt.IsLoopbackHost.
func isLoopbackHost(host string) bool { return oidcjwt.IsLoopbackHost(host) }

// parseEndpoint checks an STS endpoint (path "" or "/" only) or an issuer
// (any path, no trailing slash needed) and returns scheme://host[:port] in
// lower case for endpoints, the URL unchanged for issuers.
func parseEndpoint(s string, issuer bool) (string, error) {
	if err := asciiURL(s); err != nil {
		return "", err
	}
	u, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("%q is not a URL: %v", s, err)
	}
	if u.Scheme != "https" && u.Scheme != "http" {
		return "", fmt.Errorf("%q: scheme %q; expected https", s, u.Scheme)
	}
	if u.Opaque != "" || u.Host == "" {
		return "", fmt.Errorf("%q has no host; expected https://host", s)
	}
	if u.User != nil {
		return "", fmt.Errorf("%q has user info; expected none", s)
	}
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.ContainsAny(s, "?#") {
		return "", fmt.Errorf("%q has a query or fragment; expected none", s)
	}
	host := u.Hostname()
	if host == "" || strings.HasSuffix(host, ".") {
		return "", fmt.Errorf("%q: host %q; expected a fully qualified name without a trailing dot", s, host)
	}
	if u.Scheme == "http" && !isLoopbackHost(host) {
		return "", fmt.Errorf("%q uses http; expected https (http only for 127.0.0.1, localhost or [::1])", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("%q: port %q; expected 1-65535", s, p)
		}
	}
	if _, err := netip.ParseAddr(host); err == nil && !isLoopbackHost(host) {
		return "", fmt.Errorf("%q: an IP address; expected a host name (IP literals only for loopback)", s)
	}
	if issuer {
		// Kept exactly as written: iss is compared byte for byte, and
		// some issuers end in / (Azure v1).
		return s, nil
	}
	if u.Path != "" && u.Path != "/" {
		return "", fmt.Errorf("%q has a path; expected scheme://host only", s)
	}
	return strings.ToLower(u.Scheme + "://" + u.Host), nil
}

// asciiURL: see oidcjwt.CheckASCIIURL.
func asciiURL(s string) error { return oidcjwt.CheckASCIIURL(s) }
