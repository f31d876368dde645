package sessions

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/airlockci/airlock/edge/internal/edgehttp"
	"github.com/airlockci/airlock/edge/internal/migrate"
	"github.com/airlockci/airlock/edge/internal/secheaders"
	"github.com/airlockci/airlock/edge/internal/sqlcol"
	"github.com/airlockci/airlock/internal/oidcjwt"
)

// DB is SQLite storage; see sqlcol.DB for the contract. The Service
// serialises its calls.
type DB = sqlcol.DB

// Fetcher sends the Service's outbound HTTP requests (discovery, JWKS,
// token and device authorization endpoints); see oidcjwt.Fetcher for the
// contract (no redirects, capped bodies, safe for concurrent use).
type Fetcher = oidcjwt.Fetcher

// MaxBodyBytes is the largest request body the Service accepts; the caller
// hands over at most MaxBodyBytes+1 bytes, and more is answered 413.
const MaxBodyBytes = 64 << 10

// MaxForwardBodyBytes is the largest body of a request Serve forwards to
// the Scheduler (which enforces its own limit, no larger than this); the
// caller hands over at most MaxForwardBodyBytes+1 bytes.
const MaxForwardBodyBytes = 8 << 20

// Limits and lifetimes.
const (
	// LoginTTL is how long a sign-in may take from /auth/login to
	// /auth/callback (the login cookie's Max-Age too).
	LoginTTL = 10 * time.Minute
	// MaxDeviceTTL caps a device request, whatever the provider says.
	MaxDeviceTTL = 30 * time.Minute
	// LastSeenGranularity: last_seen is written at most this often per
	// session, so that a busy dashboard does not write on every request.
	LastSeenGranularity = time.Minute
	// MaxIDTokenLifetime caps an ID token's remaining lifetime.
	MaxIDTokenLifetime = 24 * time.Hour
	// maxProviderResponse caps what a token or device endpoint answers.
	maxProviderResponse = 64 << 10
)

// Cookie names. The __Host- prefix makes browsers insist on Secure,
// Path=/ and no Domain, so no sibling subdomain can set or shadow them.
const (
	SessionCookie = "__Host-airlock_session"
	LoginCookie   = "__Host-airlock_login"
)

// Session kinds.
const (
	KindBrowser = "browser"
	KindCLI     = "cli"
)

// Roles.
const (
	RoleAdmin  = "admin"
	RoleMember = "member"
)

// SignInPath is where a browser without a session is sent (the dashboard's
// sign-in page); 401 answers carry it as "signin".
const SignInPath = "/signin/"

// Request is an HTTP request as the Durable Object hands it over. Body
// holds at most MaxForwardBodyBytes+1 bytes (see MaxBodyBytes).
type Request = edgehttp.Request

// Response is the answer. When Forward is set the caller does not send
// this response: it forwards the original request to the Scheduler with
// the principal attached (the request is authenticated and passed the CSRF
// checks). SetCookie values must each be sent as a Set-Cookie header of
// their own (they cannot share one header, and Header holds one value per
// name).
type Response struct {
	Status    int
	Header    map[string]string // lower-case names
	SetCookie []string
	Body      []byte
	Forward   *Principal
}

// Principal is who made an authenticated request.
type Principal struct {
	User      string `json:"user"` // provider id + "#" + sub
	Email     string `json:"email"`
	Name      string `json:"name"`
	Role      string `json:"role"` // RoleAdmin or RoleMember
	Provider  string `json:"provider"`
	SessionID string `json:"session_id"`
	Kind      string `json:"kind"` // KindBrowser or KindCLI
}

// Service is the Sessions Durable Object's logic. Create it with New.
//
// Concurrency: Serve, Authorize and Sweep may be called from several
// goroutines at once — the Durable Object delivers another request while
// one awaits an outbound fetch. Database work is serialised by a mutex
// that is never held across a fetch; every state change is one
// transaction, and bad input changes nothing.
type Service struct {
	db      DB
	fetch   Fetcher
	issuers *oidcjwt.Issuers
	now     func() time.Time
	cfg     *Config
	secret  func(string) string
	log     func(string, ...any)

	mu sync.Mutex // guards db
}

// New opens the service on db, creating or migrating its tables. fetch
// reaches the identity providers, now is the clock, secret looks up a
// provider's client secret by the name in client_secret_env (a Worker
// secret binding), log receives operational messages.
func New(db DB, fetch Fetcher, now func() time.Time, cfg *Config, secret func(string) string, log func(string, ...any)) (*Service, error) {
	if db == nil || fetch == nil || cfg == nil {
		return nil, errors.New("sessions: New needs a DB, a Fetcher and a Config")
	}
	if now == nil {
		now = time.Now
	}
	if secret == nil {
		secret = func(string) string { return "" }
	}
	if log == nil {
		log = func(string, ...any) {}
	}
	for _, p := range cfg.Providers {
		if p.ClientSecretEnv != "" && secret(p.ClientSecretEnv) == "" {
			return nil, fmt.Errorf("sessions: provider %s: the secret %s is not set; expected the client secret in that secret binding (wrangler secret put %s), or remove client_secret_env for a public client", p.ID, p.ClientSecretEnv, p.ClientSecretEnv)
		}
	}
	s := &Service{db: db, fetch: fetch, issuers: oidcjwt.NewIssuers(fetch), now: now, cfg: cfg, secret: secret, log: log}
	if err := migrate.Run(db, migrations); err != nil {
		return nil, fmt.Errorf("sessions: migrate: %w", err)
	}
	return s, nil
}

// migrations[i] takes the schema from version i to i+1 (see package
// migrate). A database is never changed except by appending here.
var migrations = [][]string{schemaV1, schemaV2}

var schemaV1 = []string{
	`CREATE TABLE IF NOT EXISTS users (
		id TEXT PRIMARY KEY,
		provider TEXT NOT NULL,
		subject TEXT NOT NULL,
		email TEXT NOT NULL,
		email_verified INTEGER NOT NULL,
		name TEXT NOT NULL,
		groups_json TEXT NOT NULL,
		role TEXT NOT NULL,
		created_ms INTEGER NOT NULL,
		last_login_ms INTEGER NOT NULL
	)`,
	// secret_hash is SHA-256 of the token's secret part; the secret itself
	// is never stored.
	`CREATE TABLE IF NOT EXISTS sessions (
		id TEXT PRIMARY KEY,
		secret_hash BLOB NOT NULL,
		user_id TEXT NOT NULL,
		kind TEXT NOT NULL,
		created_ms INTEGER NOT NULL,
		last_seen_ms INTEGER NOT NULL,
		expires_ms INTEGER NOT NULL,
		user_agent TEXT NOT NULL
	)`,
	`CREATE INDEX IF NOT EXISTS sessions_by_user ON sessions (user_id)`,
	// A sign-in in progress, keyed by SHA-256 of state; binding_hash is
	// SHA-256 of the login cookie's value.
	`CREATE TABLE IF NOT EXISTS logins (
		state_hash TEXT PRIMARY KEY,
		binding_hash BLOB NOT NULL,
		provider TEXT NOT NULL,
		nonce TEXT NOT NULL,
		verifier TEXT NOT NULL,
		return_to TEXT NOT NULL,
		created_ms INTEGER NOT NULL,
		expires_ms INTEGER NOT NULL
	)`,
	// A CLI device sign-in in progress, keyed by SHA-256 of the handle the
	// CLI holds.
	`CREATE TABLE IF NOT EXISTS device_requests (
		handle_hash TEXT PRIMARY KEY,
		provider TEXT NOT NULL,
		device_code TEXT NOT NULL,
		interval_s INTEGER NOT NULL,
		next_poll_ms INTEGER NOT NULL,
		created_ms INTEGER NOT NULL,
		expires_ms INTEGER NOT NULL,
		user_agent TEXT NOT NULL
	)`,
}

// schemaV2: a sign-in in progress is no longer stored but sealed in the
// login cookie or the device_request handle (see seal.go), so anonymous
// requests store nothing. What remains is the sealing key and, for replay
// defence, the sign-ins that finished (hash of the state or handle, kept
// until the sealed attempt would have expired anyway). Attempts in
// progress during the upgrade are lost: their browsers start again.
var schemaV2 = []string{
	`DROP TABLE IF EXISTS logins`,
	`DROP TABLE IF EXISTS device_requests`,
	// Keys only this object holds; name 'seal' is the master key that
	// seals sign-ins in progress. Deleting the row rotates it.
	`CREATE TABLE IF NOT EXISTS keys (
		name TEXT PRIMARY KEY,
		key BLOB NOT NULL,
		created_ms INTEGER NOT NULL
	)`,
	// Browser sign-ins that finished: SHA-256 of their state, until the
	// login cookie that sealed it expires.
	`CREATE TABLE IF NOT EXISTS used_logins (
		state_hash TEXT PRIMARY KEY,
		expires_ms INTEGER NOT NULL
	)`,
	// Device sign-ins that finished: SHA-256 of their device_request
	// handle, until the handle expires.
	`CREATE TABLE IF NOT EXISTS used_device_requests (
		handle_hash TEXT PRIMARY KEY,
		expires_ms INTEGER NOT NULL
	)`,
}

// SchemaVersion is the database schema version this code runs on.
var SchemaVersion = len(migrations)

// tx runs fn in one transaction under the mutex. fn must not fetch.
func (s *Service) tx(fn func() error) (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			se, ok := r.(storageError)
			if !ok {
				panic(r)
			}
			err = se
		}
	}()
	return s.db.Transaction(fn)
}

// exec runs a statement whose failure means the storage is broken; it
// panics with a storageError, which tx turns into an error after the
// transaction rolled back.
func (s *Service) exec(query string, args ...any) [][]any {
	rows, err := s.db.Exec(query, args...)
	if err != nil {
		panic(storageError{fmt.Errorf("%w (in %.60q)", err, query)})
	}
	return rows
}

type storageError struct{ err error }

func (e storageError) Error() string { return "storage: " + e.err.Error() }

// Sweep deletes what has expired at now: the replay records of finished
// sign-ins and device requests whose sealed attempt has expired (a replay
// is refused by that expiry from then on), and sessions past their
// absolute lifetime or idle timeout. Expired sessions are also deleted
// when next touched; Sweep is for the ones never touched again (call it
// from the object's alarm, say hourly). It logs how many records it
// deleted.
func (s *Service) Sweep(now time.Time) error {
	n := 0
	err := s.tx(func() error {
		ms := now.UnixMilli()
		n += len(s.exec(`DELETE FROM used_logins WHERE expires_ms <= ? RETURNING 1`, ms))
		n += len(s.exec(`DELETE FROM used_device_requests WHERE expires_ms <= ? RETURNING 1`, ms))
		n += len(s.exec(`DELETE FROM sessions WHERE expires_ms <= ? OR last_seen_ms <= ? RETURNING 1`, ms, ms-s.cfg.IdleTimeout.Milliseconds()))
		return nil
	})
	if err == nil && n > 0 {
		s.log("sweep: deleted %d expired replay records and sessions", n)
	}
	return err
}

// Headers lists every header of r as name-value pairs, each SetCookie
// value as a set-cookie pair of its own, for a caller that builds a
// Headers object with append.
func (r Response) Headers() [][2]string {
	out := make([][2]string, 0, len(r.Header)+len(r.SetCookie))
	for k, v := range r.Header {
		out = append(out, [2]string{k, v})
	}
	for _, c := range r.SetCookie {
		out = append(out, [2]string{"set-cookie", c})
	}
	return out
}

// httpError is an answer other than success. Code, when set, is the
// OAuth-style error code put in "error" (device flow pass-through);
// Message is then "error_description".
type httpError struct {
	Status  int
	Code    string
	Message string
	Extra   map[string]any
	Allow   string
}

func (e *httpError) Error() string { return fmt.Sprintf("%d %s %s", e.Status, e.Code, e.Message) }

func errorf(status int, format string, args ...any) error {
	return &httpError{Status: status, Message: fmt.Sprintf(format, args...)}
}

// Serve answers one request: /auth/* (sign-in, sign-out, device flow),
// /v1/me, /v1/sessions, /v1/users; any other /v1/ path is authenticated
// and answered with Forward set. Every answer carries SecurityHeaders.
func (s *Service) Serve(ctx context.Context, req Request) Response {
	resp, err := s.serve(ctx, req)
	if err != nil {
		resp = s.errorResponse(req, err)
	}
	if resp.Header == nil {
		resp.Header = map[string]string{}
	}
	SecurityHeaders(resp.Header)
	return resp
}

// errorResponse maps an error to its answer: JSON for the API, a small
// HTML page for the browser's sign-in navigations. Every error carries an
// ID that is also in the log.
func (s *Service) errorResponse(req Request, err error) Response {
	id := newID("err_")
	var he *httpError
	if !errors.As(err, &he) {
		s.log("%s: %s %s: %v", id, req.Method, logPath(req.URL), err)
		he = &httpError{Status: 500, Message: "internal error"}
	} else {
		s.log("%s: %s %s: %d %s%s", id, req.Method, logPath(req.URL), he.Status, he.Code, he.Message)
	}
	if isNavigation(req) {
		page := fmt.Sprintf("<!doctype html>\n<html lang=en><meta charset=utf-8><title>Sign-in failed</title>\n<h1>Sign-in failed</h1>\n<p>%s</p>\n<p>Error ID %s</p>\n<p><a href=\"%s\">Sign in again</a></p>\n</html>\n",
			html.EscapeString(he.Message), id, SignInPath)
		r := Response{Status: he.Status, Body: []byte(page), Header: map[string]string{"content-type": "text/html; charset=utf-8"}}
		if he.Allow != "" {
			r.Header["allow"] = he.Allow // a 405 names the allowed methods, page or not
		}
		return r
	}
	body := map[string]any{}
	for k, v := range he.Extra {
		body[k] = v
	}
	if he.Code != "" {
		body["error"] = he.Code
		if he.Message != "" {
			body["error_description"] = he.Message
		}
	} else {
		body["error"] = he.Message
	}
	body["id"] = id
	if he.Status == 401 {
		body["signin"] = SignInPath
	}
	r := jsonResponse(he.Status, body)
	if he.Allow != "" {
		r.Header["allow"] = he.Allow
	}
	return r
}

// isNavigation: /auth/login and /auth/callback are top-level browser
// navigations; their errors are pages, not JSON.
func isNavigation(req Request) bool {
	u, err := url.Parse(req.URL)
	return err == nil && (u.Path == "/auth/login" || u.Path == "/auth/callback")
}

// logPath is the URL's path only: queries carry codes and states.
func logPath(raw string) string {
	if u, err := url.Parse(raw); err == nil {
		return u.Path
	}
	return "(malformed URL)"
}

func (s *Service) serve(ctx context.Context, req Request) (Response, error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return Response{}, errorf(400, "malformed URL")
	}
	// The body limit is this service's own: a request it forwards is held
	// to the Scheduler's limit there (the shim reads up to the larger one).
	tooBig := len(req.Body) > MaxBodyBytes
	if tooBig && (len(req.Body) > MaxForwardBodyBytes || !strings.HasPrefix(u.Path, "/v1/")) {
		return Response{}, errorf(413, "request body over the limit of %d bytes", MaxBodyBytes)
	}
	if err := checkFetchMetadata(req); err != nil {
		return Response{}, err
	}
	parts, err := edgehttp.Segments(u)
	if err != nil {
		return Response{}, errorf(400, "malformed URL path")
	}
	q := u.Query()
	router := &edgehttp.Router{Method: req.Method, Segments: parts}
	route := router.Route
	notAllowed := func() (Response, error) {
		if msg, allow, ok := router.NotAllowed(u.Path); ok {
			return Response{}, &httpError{Status: 405, Message: msg, Allow: allow}
		}
		return Response{}, errorf(404, "no such endpoint")
	}

	if parts[0] == "auth" {
		if req.Method == "HEAD" && len(parts) == 2 && (parts[1] == "login" || parts[1] == "callback") {
			// These GETs start or finish a sign-in; a HEAD must not.
			return Response{}, &httpError{Status: 405, Message: fmt.Sprintf("HEAD %s: method not allowed, want GET", u.Path), Allow: "GET"}
		}
		switch {
		case route("GET", "auth", "providers"):
			return s.providers(), nil
		case route("GET", "auth", "login"):
			return s.login(ctx, req, q)
		case route("GET", "auth", "callback"):
			return s.callback(ctx, req, q)
		case route("POST", "auth", "logout"):
			return s.logout(req)
		case route("POST", "auth", "device"):
			return s.deviceStart(ctx, req)
		case route("POST", "auth", "device", "token"):
			return s.deviceToken(ctx, req)
		}
		return notAllowed()
	}
	if parts[0] != "v1" {
		return Response{}, errorf(404, "no such endpoint")
	}

	// Everything under /v1/ needs a session.
	p, err := s.Authorize(req)
	if err != nil {
		return Response{}, err
	}
	ownRoute := len(parts) >= 2 && (parts[1] == "me" || parts[1] == "sessions" || parts[1] == "users")
	if tooBig && ownRoute {
		return Response{}, errorf(413, "request body over the limit of %d bytes", MaxBodyBytes)
	}
	switch {
	case route("GET", "v1", "me"):
		return s.me(p)
	case route("GET", "v1", "sessions"):
		return s.listSessions(p, q)
	case route("DELETE", "v1", "sessions", "*"):
		return s.endSession(p, parts[2])
	case route("GET", "v1", "users"):
		return s.listUsers(p)
	case route("DELETE", "v1", "users", "*", "sessions"):
		return s.endUserSessions(p, parts[2])
	}
	if _, _, ok := router.NotAllowed(u.Path); ok {
		return notAllowed()
	}
	return Response{Forward: p}, nil
}

// providers lists the sign-in options.
func (s *Service) providers() Response {
	type item struct {
		ID   string `json:"id"`
		Name string `json:"name"`
	}
	out := []item{}
	for _, p := range s.cfg.Providers {
		out = append(out, item{p.ID, p.Name})
	}
	return jsonResponse(200, map[string]any{"providers": out})
}

// isUnsafe: anything but GET and HEAD may change state.
func isUnsafe(method string) bool { return method != "GET" && method != "HEAD" }

// checkFetchMetadata refuses unsafe requests a browser marks as coming
// from another site (whatever their credentials), and unsafe requests with
// a body that is not JSON (HTML forms cannot send application/json
// cross-site without a CORS preflight, which we never grant).
func checkFetchMetadata(req Request) error {
	if !isUnsafe(req.Method) {
		return nil
	}
	switch req.Header["sec-fetch-site"] {
	case "cross-site", "same-site":
		return errorf(403, "cross-site request refused: %s requests must come from this site's own pages (Sec-Fetch-Site %s)", req.Method, req.Header["sec-fetch-site"])
	}
	if len(req.Body) > 0 {
		mt, _, err := mime.ParseMediaType(req.Header["content-type"])
		if err != nil || mt != "application/json" {
			return errorf(415, "request body of type %s; expected application/json", oidcjwt.Quote(req.Header["content-type"]))
		}
	}
	return nil
}

// checkSameOrigin is the CSRF check for unsafe requests authenticated by
// cookie: the browser must say the request came from our own origin,
// with Sec-Fetch-Site: same-origin or, from browsers that do not send
// Fetch Metadata, an Origin exactly equal to ours.
func (s *Service) checkSameOrigin(req Request) error {
	if !isUnsafe(req.Method) {
		return nil
	}
	if sfs, ok := req.Header["sec-fetch-site"]; ok && sfs != "" {
		if sfs != "same-origin" {
			return errorf(403, "cross-origin request refused: Sec-Fetch-Site %s; a %s with the session cookie must come from %s", oidcjwt.Quote(sfs), req.Method, s.cfg.Origin)
		}
		return nil
	}
	if o := req.Header["origin"]; o != s.cfg.Origin {
		return errorf(403, "cross-origin request refused: Origin %s; a %s with the session cookie must come from %s", oidcjwt.Quote(o), req.Method, s.cfg.Origin)
	}
	return nil
}

// SecurityHeaders sets the response headers every answer of the edge
// carries (lower-case names); the list is edge/internal/secheaders'.
func SecurityHeaders(h map[string]string) { secheaders.Set(h) }

func jsonResponse(status int, v any) Response {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error":"internal error: encoding the response"}`)
	}
	return Response{Status: status, Body: append(b, '\n'), Header: map[string]string{"content-type": "application/json"}}
}

// newID returns prefix followed by 96 random bits in hex.
func newID(prefix string) string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return prefix + hex.EncodeToString(b[:])
}

// Short names for sqlcol's readers: every query reads rows with them.
func asInt(v any) int64     { return sqlcol.Int(v) }
func asString(v any) string { return sqlcol.String(v) }
func asBytes(v any) []byte  { return sqlcol.Bytes(v) }
