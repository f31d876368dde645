package sessions

import (
	"net/url"
	"time"

	"github.com/airlockci/airlock/internal/oidcjwt"
)

// UserView is a user as the API shows it.
type UserView struct {
	ID       string `json:"id"`
	Email    string `json:"email"`
	Name     string `json:"name"`
	Role     string `json:"role"`
	Provider string `json:"provider"`
	// Listed for admins only (GET /v1/users).
	Created   string `json:"created,omitempty"`
	LastLogin string `json:"last_login,omitempty"`
	Sessions  *int64 `json:"sessions,omitempty"`
}

// SessionView is a session as the API shows it (RFC 3339 times). The id
// is the public half of the token; the secret is never shown.
type SessionView struct {
	ID          string `json:"id"`
	Kind        string `json:"kind"`
	User        *Owner `json:"user,omitempty"` // in admin listings
	Created     string `json:"created"`
	LastSeen    string `json:"last_seen"`
	IdleExpires string `json:"idle_expires"`
	Expires     string `json:"expires"`
	UserAgent   string `json:"user_agent"`
	Current     bool   `json:"current"`
}

// Owner is whose session it is, in admin listings.
type Owner struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
}

func userViewOf(p *Principal) UserView {
	return UserView{ID: p.User, Email: p.Email, Name: p.Name, Role: p.Role, Provider: p.Provider}
}

func rfc3339(ms int64) string { return time.UnixMilli(ms).UTC().Format(time.RFC3339) }

const sessionColumns = `id, kind, user_id, created_ms, last_seen_ms, expires_ms, user_agent,
	(SELECT email FROM users WHERE users.id = sessions.user_id), (SELECT name FROM users WHERE users.id = sessions.user_id)`

func (s *Service) scanSession(r []any, current string) SessionView {
	lastSeen, expires := asInt(r[4]), asInt(r[5])
	idle := min(lastSeen+s.cfg.IdleTimeout.Milliseconds(), expires)
	return SessionView{ID: asString(r[0]), Kind: asString(r[1]), User: &Owner{ID: asString(r[2]), Email: asString(r[7]), Name: asString(r[8])}, Created: rfc3339(asInt(r[3])),
		LastSeen: rfc3339(lastSeen), IdleExpires: rfc3339(idle), Expires: rfc3339(expires), UserAgent: asString(r[6]),
		Current: asString(r[0]) == current}
}

func (s *Service) sessionView(id, current string) (SessionView, error) {
	var v SessionView
	err := s.tx(func() error {
		rows := s.exec(`SELECT `+sessionColumns+` FROM sessions WHERE id = ?`, id)
		if len(rows) == 0 {
			return errorf(404, "session not found")
		}
		v = s.scanSession(rows[0], current)
		v.User = nil
		return nil
	})
	return v, err
}

// me is GET /v1/me: who is signed in, and this session.
func (s *Service) me(p *Principal) (Response, error) {
	sv, err := s.sessionView(p.SessionID, p.SessionID)
	if err != nil {
		return Response{}, err
	}
	return jsonResponse(200, map[string]any{"user": userViewOf(p), "session": sv}), nil
}

func requireAdmin(p *Principal) error {
	if p.Role != RoleAdmin {
		return errorf(403, "this needs the admin role; %s is a %s", p.Email, p.Role)
	}
	return nil
}

// listSessions is GET /v1/sessions: a JSON array of the caller's own
// sessions; an admin may ask for one user's (?user=ID) or everyone's
// (?all=1), and then each item names its user.
func (s *Service) listSessions(p *Principal, q url.Values) (Response, error) {
	userID, err := single(q, "user")
	if err != nil {
		return Response{}, err
	}
	all, err := single(q, "all")
	if err != nil {
		return Response{}, err
	}
	if all != "" && all != "1" && all != "true" {
		return Response{}, errorf(400, "query parameter all=%s; expected 1", oidcjwt.Quote(all))
	}
	admin := userID != "" || all != ""
	if admin {
		if err := requireAdmin(p); err != nil {
			return Response{}, err
		}
	}
	out := []SessionView{}
	now := s.now().UnixMilli()
	idle := s.cfg.IdleTimeout.Milliseconds()
	err = s.tx(func() error {
		var rows [][]any
		switch {
		case all != "":
			rows = s.exec(`SELECT `+sessionColumns+` FROM sessions WHERE expires_ms > ? AND last_seen_ms > ? ORDER BY user_id, created_ms`, now, now-idle)
		case userID != "":
			rows = s.exec(`SELECT `+sessionColumns+` FROM sessions WHERE user_id = ? AND expires_ms > ? AND last_seen_ms > ? ORDER BY created_ms`, userID, now, now-idle)
		default:
			rows = s.exec(`SELECT `+sessionColumns+` FROM sessions WHERE user_id = ? AND expires_ms > ? AND last_seen_ms > ? ORDER BY created_ms`, p.User, now, now-idle)
		}
		for _, r := range rows {
			v := s.scanSession(r, p.SessionID)
			if !admin {
				v.User = nil
			}
			out = append(out, v)
		}
		return nil
	})
	return jsonResponse(200, out), err
}

// endSession is DELETE /v1/sessions/{id}: one's own session, or (admin)
// anyone's. Another user's session is "not found" for a member, so that
// members learn nothing about other people's sessions.
func (s *Service) endSession(p *Principal, id string) (Response, error) {
	notFound := errorf(404, "session %s not found", oidcjwt.Quote(id))
	if !validID(id) {
		return Response{}, notFound
	}
	err := s.tx(func() error {
		rows := s.exec(`SELECT user_id FROM sessions WHERE id = ?`, id)
		if len(rows) == 0 || (asString(rows[0][0]) != p.User && p.Role != RoleAdmin) {
			return notFound
		}
		s.exec(`DELETE FROM sessions WHERE id = ?`, id)
		return nil
	})
	if err != nil {
		return Response{}, err
	}
	s.log("session %s ended by %s", id, p.User)
	return Response{Status: 204}, nil
}

// endUserSessions is DELETE /v1/users/{id}/sessions (admin): end every
// session of a user at once, as when someone leaves.
func (s *Service) endUserSessions(p *Principal, userID string) (Response, error) {
	if err := requireAdmin(p); err != nil {
		return Response{}, err
	}
	var n int
	err := s.tx(func() error {
		n = len(s.exec(`DELETE FROM sessions WHERE user_id = ? RETURNING 1`, userID))
		if n == 0 && len(s.exec(`SELECT 1 FROM users WHERE id = ?`, userID)) == 0 {
			return errorf(404, "user %s not found", oidcjwt.Quote(userID))
		}
		return nil
	})
	if err != nil {
		return Response{}, err
	}
	s.log("%d sessions of %s ended by %s", n, userID, p.User)
	return jsonResponse(200, map[string]any{"ended": n}), nil
}

// listUsers is GET /v1/users (admin): everyone who has signed in.
func (s *Service) listUsers(p *Principal) (Response, error) {
	if err := requireAdmin(p); err != nil {
		return Response{}, err
	}
	out := []UserView{}
	now := s.now().UnixMilli()
	err := s.tx(func() error {
		for _, r := range s.exec(`SELECT `+userColumns+`, (SELECT COUNT(*) FROM sessions WHERE user_id = users.id AND expires_ms > ? AND last_seen_ms > ?) FROM users ORDER BY email, id`,
			now, now-s.cfg.IdleTimeout.Milliseconds()) {
			u := scanUser(r)
			n := asInt(r[10])
			out = append(out, UserView{ID: u.id, Email: u.email, Name: u.name, Role: u.role, Provider: u.provider,
				Created: rfc3339(u.createdMS), LastLogin: rfc3339(u.lastLoginMS), Sessions: &n})
		}
		return nil
	})
	return jsonResponse(200, map[string]any{"users": out}), err
}
