package sessions

import (
	"encoding/json"
	"strings"
	"time"
)

// Authorize authenticates req and applies the CSRF rules: a browser
// session only from the session cookie, a CLI session only from
// Authorization: Bearer; unsafe cookie requests only from our own origin
// (Serve applies the Fetch Metadata and content-type rules before). It
// enforces the idle timeout and absolute lifetime (deleting an expired
// session), refuses a user the configuration no longer allows, and records
// last_seen at most once per LastSeenGranularity. Errors are answers (401
// or 403) for Serve; callers outside Serve may show their message.
func (s *Service) Authorize(req Request) (*Principal, error) {
	token, kind, err := s.credentials(req)
	if err != nil {
		return nil, err
	}
	id, secret, err := parseToken(token)
	if err != nil {
		return nil, errorf(401, "%v", err)
	}
	var p *Principal
	var refusal error
	err = s.tx(func() error {
		p, refusal = s.lookupSession(id, secret, kind)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, refusal
}

// credentials finds the token and which kind of session it must be.
func (s *Service) credentials(req Request) (token, kind string, err error) {
	authz := req.Header["authorization"]
	cookie, cerr := singleCookie(req.Header["cookie"], SessionCookie)
	if cerr != nil {
		return "", "", errorf(401, "%v", cerr)
	}
	switch {
	case authz != "" && cookie != "":
		return "", "", errorf(401, "the request carries both a session cookie and Authorization; expected one: the cookie from the dashboard, Authorization: Bearer from the CLI")
	case authz != "":
		scheme, tok, ok := strings.Cut(authz, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", "", errorf(401, "Authorization header: expected Bearer <token> (from airlock login)")
		}
		return strings.TrimSpace(tok), KindCLI, nil
	case cookie != "":
		if err := s.checkSameOrigin(req); err != nil {
			return "", "", err
		}
		return cookie, KindBrowser, nil
	}
	return "", "", errorf(401, "not signed in")
}

// lookupSession checks a token against its record; it runs in a
// transaction and returns the refusal separately so that deleting an
// expired session is kept.
func (s *Service) lookupSession(id string, secret []byte, kind string) (*Principal, error) {
	rows := s.exec(`SELECT secret_hash, user_id, kind, last_seen_ms, expires_ms FROM sessions WHERE id = ?`, id)
	gone := errorf(401, "session not found: signed out, revoked or expired; sign in again")
	if len(rows) == 0 || !secretMatches(secret, asBytes(rows[0][0])) {
		return nil, gone
	}
	r := rows[0]
	userID, recKind, lastSeen, expires := asString(r[1]), asString(r[2]), asInt(r[3]), asInt(r[4])
	if recKind != kind {
		if recKind == KindBrowser {
			return nil, errorf(401, "a browser session is accepted only from its cookie, not from Authorization")
		}
		return nil, errorf(401, "a CLI session is accepted only from Authorization: Bearer, not from a cookie")
	}
	now := s.now().UnixMilli()
	if now >= expires {
		s.exec(`DELETE FROM sessions WHERE id = ?`, id)
		return nil, errorf(401, "session expired: sessions last at most %s; sign in again", s.cfg.AbsoluteLifetime)
	}
	if now >= lastSeen+s.cfg.IdleTimeout.Milliseconds() {
		s.exec(`DELETE FROM sessions WHERE id = ?`, id)
		return nil, errorf(401, "session expired after %s without use; sign in again", s.cfg.IdleTimeout)
	}
	u, ok := s.loadUser(userID)
	if !ok {
		s.exec(`DELETE FROM sessions WHERE id = ?`, id)
		return nil, gone
	}
	// The configuration may have changed since sign-in: apply it now.
	role, allowed := s.classify(u.provider, u.email, u.verified, u.groups)
	if !allowed {
		s.exec(`DELETE FROM sessions WHERE user_id = ?`, userID)
		return nil, errorf(401, "%s may no longer sign in (the sign-in rules changed); ask an administrator", u.email)
	}
	if role != u.role {
		s.exec(`UPDATE users SET role = ? WHERE id = ?`, role, userID)
	}
	if now-lastSeen >= LastSeenGranularity.Milliseconds() {
		s.exec(`UPDATE sessions SET last_seen_ms = ? WHERE id = ?`, now, id)
	}
	return &Principal{User: userID, Email: u.email, Name: u.name, Role: role, Provider: u.provider, SessionID: id, Kind: kind}, nil
}

type user struct {
	id, provider, subject, email, name, role string
	verified                                 bool
	groups                                   []string
	createdMS, lastLoginMS                   int64
}

const userColumns = `id, provider, subject, email, email_verified, name, groups_json, role, created_ms, last_login_ms`

func scanUser(r []any) user {
	u := user{id: asString(r[0]), provider: asString(r[1]), subject: asString(r[2]), email: asString(r[3]),
		verified: asInt(r[4]) != 0, name: asString(r[5]), role: asString(r[7]), createdMS: asInt(r[8]), lastLoginMS: asInt(r[9])}
	_ = json.Unmarshal(asBytes(r[6]), &u.groups)
	return u
}

func (s *Service) loadUser(id string) (user, bool) {
	rows := s.exec(`SELECT `+userColumns+` FROM users WHERE id = ?`, id)
	if len(rows) == 0 {
		return user{}, false
	}
	return scanUser(rows[0]), true
}

// classify applies a provider's rules: allowed by a verified email in an
// allowed domain or by an allowed group; admin by a verified admin email
// or an admin group.
func (s *Service) classify(providerID, email string, verified bool, groups []string) (role string, allowed bool) {
	p, ok := s.cfg.Provider(providerID)
	if !ok {
		return "", false
	}
	email = strings.ToLower(email)
	domain := ""
	if at := strings.LastIndexByte(email, '@'); at > 0 {
		domain = email[at+1:]
	}
	inGroups := func(list []string) bool {
		for _, g := range groups {
			if contains(list, g) {
				return true
			}
		}
		return false
	}
	allowed = (verified && domain != "" && contains(p.Allow.EmailDomains, domain)) || inGroups(p.Allow.Groups)
	if !allowed {
		return "", false
	}
	if (verified && email != "" && contains(p.Admins.Emails, email)) || inGroups(p.Admins.Groups) {
		return RoleAdmin, true
	}
	return RoleMember, true
}

// signIn upserts the user and creates a session of kind; it runs inside a
// transaction.
func (s *Service) signIn(u user, kind, userAgent string, now time.Time) (token string, p *Principal) {
	groups, _ := json.Marshal(u.groups)
	if u.groups == nil {
		groups = []byte("[]")
	}
	ms := now.UnixMilli()
	verified := int64(0)
	if u.verified {
		verified = 1
	}
	s.exec(`INSERT INTO users (`+userColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET email = excluded.email, email_verified = excluded.email_verified, name = excluded.name,
		groups_json = excluded.groups_json, role = excluded.role, last_login_ms = excluded.last_login_ms`,
		u.id, u.provider, u.subject, u.email, verified, u.name, string(groups), u.role, ms, ms)
	token, id, hash := newToken()
	s.exec(`INSERT INTO sessions (id, secret_hash, user_id, kind, created_ms, last_seen_ms, expires_ms, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		id, hash, u.id, kind, ms, ms, now.Add(s.cfg.AbsoluteLifetime).UnixMilli(), truncate(userAgent, 256))
	return token, &Principal{User: u.id, Email: u.email, Name: u.name, Role: u.role, Provider: u.provider, SessionID: id, Kind: kind}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
