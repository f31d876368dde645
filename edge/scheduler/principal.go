package scheduler

import (
	"encoding/json"
	"fmt"
)

// PrincipalHeader carries the signed-in person a request acts for. Only the
// Sessions Durable Object sets it, after it has checked the session; the
// Worker refuses any request from outside that carries it, so on the
// Scheduler its presence means "authenticated by Sessions".
const PrincipalHeader = "airlock-principal"

// Roles a principal can have.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// Principal is who a request acts for.
type Principal struct {
	User    string `json:"user"`
	Email   string `json:"email,omitempty"`
	Name    string `json:"name,omitempty"`
	Role    string `json:"role"`
	Session string `json:"session,omitempty"`
	Kind    string `json:"kind,omitempty"`
}

// actor is how runs and jobs record who acted: the email, or the user ID
// when the provider gave none.
func (p Principal) actor() string {
	if p.Email != "" {
		return p.Email
	}
	return p.User
}

// EncodePrincipal is the header value for p.
func EncodePrincipal(p Principal) string {
	b, _ := json.Marshal(p)
	return string(b)
}

// agentRoutes are the only API paths that do not act for a person: agents
// reach them with their workload identity, and health checks with nothing.
var agentRoutes = map[string]bool{
	"v1/healthz":          true,
	"v1/agents/challenge": true,
	"v1/agents/connect":   true,
}

// principalOf reads the principal header. Every route other than the
// agents' needs one: the Scheduler never serves a person's request that did
// not pass through the Sessions object.
func principalOf(req Request) (Principal, error) {
	raw := req.Header[PrincipalHeader]
	if raw == "" {
		return Principal{}, &HTTPError{Status: 401, Message: "not signed in: this request did not come through a session (sign in at /signin/)"}
	}
	var p Principal
	if err := json.Unmarshal([]byte(raw), &p); err != nil || p.User == "" || (p.Role != RoleAdmin && p.Role != RoleMember) {
		return Principal{}, &HTTPError{Status: 401, Message: fmt.Sprintf("malformed %s header: want a JSON principal with a user and a role", PrincipalHeader)}
	}
	return p, nil
}
