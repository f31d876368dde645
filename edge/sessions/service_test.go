package sessions_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockci/airlock/edge/sessions"
	"github.com/airlockci/airlock/internal/identity/httpfetch"
	"github.com/airlockci/airlock/internal/sqlitedb"
)

const publicURL = "https://ci.example.com"

var (
	alice   = idpUser{Sub: "alice-sub", Email: "alice@example.com", Verified: true, Name: "Alice", Groups: []string{"eng", "airlock-admins"}}
	bob     = idpUser{Sub: "bob-sub", Email: "Bob@Example.com", Verified: true, Name: "Bob", Groups: []string{"eng"}}
	mallory = idpUser{Sub: "mallory-sub", Email: "mallory@evil.example", Verified: true, Name: "Mallory"}
	carol   = idpUser{Sub: "carol-sub", Email: "carol@example.com", Verified: false, Name: "Carol"}
	dana    = idpUser{Sub: "dana-sub", Name: "Dana", Groups: []string{"contractors"}} // no email: allowed by group
)

// world is a Service on a real SQLite, talking over real sockets to two
// in-test identity providers, with a clock the test moves.
type world struct {
	t           *testing.T
	db          *sqlitedb.DB
	svc         *sessions.Service
	cfg         *sessions.Config
	acme, other *idp

	mu    sync.Mutex
	clock time.Time
	logs  []string
}

func (w *world) now() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.clock
}

func (w *world) advance(d time.Duration) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.clock = w.clock.Add(d)
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, clock: time.Now().UTC().Truncate(time.Second)}
	w.acme = startIDP(t, "airlock-acme", "acme-client-secret", w.now)
	w.other = startIDP(t, "airlock-other", "", w.now)
	w.acme.setUser(alice)
	w.other.setUser(alice)
	src := fmt.Sprintf(`public_url: %s
sessions: {idle_timeout: 1h, absolute_lifetime: 8h}
providers:
  - id: acme
    name: Acme SSO
    issuer: %s
    client_id: airlock-acme
    client_secret_env: ACME_SECRET
    scopes: [openid, email, profile, groups]
    allow: {email_domains: [example.com], groups: [contractors]}
    admins: {groups: [airlock-admins]}
  - id: other
    name: Other
    issuer: %s
    client_id: airlock-other
    allow: {email_domains: [example.com]}
    admins: {emails: [alice@example.com]}
`, publicURL, w.acme.issuer(), w.other.issuer())
	cfg, err := sessions.LoadConfig("sso.yml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	w.cfg = cfg
	db, err := sqlitedb.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	w.db = db
	secrets := map[string]string{"ACME_SECRET": "acme-client-secret"}
	w.svc, err = sessions.New(db, httpfetch.New(5*time.Second, 0), w.now, cfg, func(n string) string { return secrets[n] },
		func(f string, a ...any) {
			w.mu.Lock()
			defer w.mu.Unlock()
			w.logs = append(w.logs, fmt.Sprintf(f, a...))
		})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// do sends one request to the Service and checks the security headers.
func (w *world) do(method, target string, header map[string]string, body string) sessions.Response {
	w.t.Helper()
	h := map[string]string{}
	for k, v := range header {
		h[strings.ToLower(k)] = v
	}
	if body != "" && h["content-type"] == "" {
		h["content-type"] = "application/json"
	}
	u := target
	if strings.HasPrefix(target, "/") {
		u = publicURL + target
	}
	r := w.svc.Serve(context.Background(), sessions.Request{Method: method, URL: u, Header: h, Body: []byte(body)})
	if r.Forward == nil {
		for k, want := range map[string]string{
			"content-security-policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
			"x-content-type-options":  "nosniff", "referrer-policy": "no-referrer", "cache-control": "no-store",
			"strict-transport-security": "max-age=63072000; includeSubDomains", "cross-origin-opener-policy": "same-origin",
			"cross-origin-resource-policy": "same-origin", "x-frame-options": "DENY",
		} {
			if r.Header[k] != want {
				w.t.Errorf("%s %s: header %s = %q, want %q", method, target, k, r.Header[k], want)
			}
		}
	}
	return r
}

// browser is the headers a same-origin fetch from the dashboard carries.
func browser(token string) map[string]string {
	return map[string]string{"cookie": sessions.SessionCookie + "=" + token, "sec-fetch-site": "same-origin", "origin": publicURL, "user-agent": "test-browser"}
}

func bearer(token string) map[string]string {
	return map[string]string{"authorization": "Bearer " + token, "user-agent": "airlock-cli/test"}
}

func setCookie(r sessions.Response, name string) (value, attrs string, ok bool) {
	for _, c := range r.SetCookie {
		if v, ok := strings.CutPrefix(c, name+"="); ok {
			value, attrs, _ = strings.Cut(v, ";")
			return value, attrs, true
		}
	}
	return "", "", false
}

func decode(t *testing.T, r sessions.Response) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("status %d, body %q: %v", r.Status, r.Body, err)
	}
	return m
}

func decodeList(t *testing.T, r sessions.Response) []any {
	t.Helper()
	var l []any
	if err := json.Unmarshal(r.Body, &l); err != nil {
		t.Fatalf("status %d, body %q: %v", r.Status, r.Body, err)
	}
	return l
}

func wantStatus(t *testing.T, r sessions.Response, status int, message string) {
	t.Helper()
	if r.Status != status || !strings.Contains(string(r.Body), message) {
		t.Fatalf("got %d %s, want %d containing %q", r.Status, r.Body, status, message)
	}
	if r.Status >= 400 && !regexp.MustCompile(`err_[0-9a-f]{24}`).Match(r.Body) {
		t.Errorf("error answer %s has no error ID", r.Body)
	}
}

// started is a browser sign-in between /auth/login and the callback.
type started struct {
	state, binding string
	authorize      *url.URL
}

func (w *world) startLogin(provider, returnTo string) started {
	w.t.Helper()
	q := url.Values{"provider": {provider}}
	if returnTo != "" {
		q.Set("return_to", returnTo)
	}
	r := w.do("GET", "/auth/login?"+q.Encode(), nil, "")
	if r.Status != 302 {
		w.t.Fatalf("login: got %d %s, want 302", r.Status, r.Body)
	}
	loc, err := url.Parse(r.Header["location"])
	if err != nil {
		w.t.Fatal(err)
	}
	binding, attrs, ok := setCookie(r, sessions.LoginCookie)
	if !ok || attrs != " Path=/; Max-Age=600; HttpOnly; Secure; SameSite=Lax" {
		w.t.Fatalf("login cookie %v: %q, want HttpOnly; Secure; SameSite=Lax; Path=/; Max-Age=600", r.SetCookie, attrs)
	}
	return started{state: loc.Query().Get("state"), binding: binding, authorize: loc}
}

// authorize lets the provider answer the authorization request (as the
// browser would follow the redirect) and returns the callback URL.
func (w *world) authorize(s started) *url.URL {
	w.t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(s.authorize.String())
	if err != nil {
		w.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 302 {
		w.t.Fatalf("provider answered %d, want 302", resp.StatusCode)
	}
	u, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		w.t.Fatal(err)
	}
	return u
}

func (w *world) callback(cb *url.URL, cookie string) sessions.Response {
	w.t.Helper()
	h := map[string]string{"sec-fetch-site": "cross-site", "user-agent": "test-browser"}
	if cookie != "" {
		h["cookie"] = cookie
	}
	return w.do("GET", cb.String(), h, "")
}

// signIn runs a whole browser sign-in as u and returns the session token.
func (w *world) signIn(p *idp, provider string, u idpUser) string {
	w.t.Helper()
	p.setUser(u)
	s := w.startLogin(provider, "/runs")
	r := w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
	if r.Status != 200 {
		w.t.Fatalf("callback: got %d %s", r.Status, r.Body)
	}
	tok, _, ok := setCookie(r, sessions.SessionCookie)
	if !ok {
		w.t.Fatalf("callback set no session cookie: %v", r.SetCookie)
	}
	return tok
}

func (w *world) count(table string) int64 {
	rows, err := w.db.Exec("SELECT COUNT(*) FROM " + table)
	if err != nil {
		w.t.Fatal(err)
	}
	return rows[0][0].(int64)
}

// stored is the number of rows of every table (but the schema version),
// to show that a request stored nothing.
func (w *world) stored() map[string]int64 {
	w.t.Helper()
	rows, err := w.db.Exec(`SELECT name FROM sqlite_master WHERE type = 'table' AND name <> 'meta' ORDER BY name`)
	if err != nil {
		w.t.Fatal(err)
	}
	out := map[string]int64{}
	for _, r := range rows {
		out[r[0].(string)] = w.count(r[0].(string))
	}
	return out
}

// unchanged fails the test when a table's row count differs from before.
func (w *world) unchanged(what string, before map[string]int64) {
	w.t.Helper()
	after := w.stored()
	for table, n := range after {
		if before[table] != n {
			w.t.Errorf("%s: table %s has %d rows, had %d; want nothing stored", what, table, n, before[table])
		}
	}
}

func TestBrowserSignIn(t *testing.T) {
	w := newWorld(t)
	r := w.do("GET", "/auth/providers", nil, "")
	if r.Status != 200 || string(r.Body) != `{"providers":[{"id":"acme","name":"Acme SSO"},{"id":"other","name":"Other"}]}`+"\n" {
		t.Errorf("providers: got %d %s", r.Status, r.Body)
	}

	s := w.startLogin("acme", "/runs/42?tab=log&x=1")
	q := s.authorize.Query()
	for k, want := range map[string]string{
		"response_type": "code", "client_id": "airlock-acme", "redirect_uri": publicURL + "/auth/callback",
		"scope": "openid email profile groups", "code_challenge_method": "S256",
	} {
		if q.Get(k) != want {
			t.Errorf("authorization request %s = %q, want %q", k, q.Get(k), want)
		}
	}
	for _, k := range []string{"state", "nonce", "code_challenge"} {
		if len(q.Get(k)) < 22 { // 128 bits in base64url
			t.Errorf("authorization request %s = %q, want at least 128 random bits", k, q.Get(k))
		}
	}
	if s.authorize.Scheme+"://"+s.authorize.Host+s.authorize.Path != w.acme.issuer()+"/authorize" {
		t.Errorf("redirected to %s, want the provider's authorization_endpoint", s.authorize)
	}
	// The attempt is in the cookie, sealed: nothing of it is stored, and
	// the cookie shows none of its secrets.
	if n := w.count("sessions") + w.count("used_logins") + w.count("users"); n != 0 {
		t.Errorf("GET /auth/login stored %d rows, want none", n)
	}
	for _, secret := range []string{s.state, q.Get("nonce"), "/runs/42", "acme"} {
		if strings.Contains(s.binding, secret) {
			t.Errorf("the login cookie shows %q in clear: %s", secret, s.binding)
		}
	}
	loginAt := w.now()

	cb := w.authorize(s)
	r = w.callback(cb, "other=1; "+sessions.LoginCookie+"="+s.binding)
	if r.Status != 200 || r.Header["content-type"] != "text/html; charset=utf-8" {
		t.Fatalf("callback: got %d %s, want 200 with a page (not a redirect)", r.Status, r.Body)
	}
	page := string(r.Body)
	if !strings.Contains(page, `<meta http-equiv="refresh" content="0;url=/runs/42?tab=log&amp;x=1">`) || !strings.Contains(page, `<a href="/runs/42?tab=log&amp;x=1">`) {
		t.Errorf("the page does not continue to return_to (HTML-escaped): %s", page)
	}
	token, attrs, ok := setCookie(r, sessions.SessionCookie)
	if !ok || attrs != " Path=/; Max-Age=28800; HttpOnly; Secure; SameSite=Strict" {
		t.Errorf("session cookie %v, want HttpOnly; Secure; SameSite=Strict; Path=/; Max-Age=28800 and no Domain", r.SetCookie)
	}
	if v, attrs, ok := setCookie(r, sessions.LoginCookie); !ok || v != "" || !strings.Contains(attrs, "Max-Age=0") {
		t.Errorf("login cookie not cleared: %v", r.SetCookie)
	}
	// Finished: its state is recorded as used (a hash, until the cookie
	// would have expired), for replay defence.
	if rows, _ := w.db.Exec("SELECT state_hash, expires_ms FROM used_logins"); len(rows) != 1 || rows[0][0] == s.state || strings.Contains(rows[0][0].(string), s.state) || rows[0][1] != loginAt.Add(10*time.Minute).UnixMilli() {
		t.Errorf("used_logins %v: want one row, a hash of the state, expiring with the login cookie", rows)
	}
	// The token's secret is not stored.
	rows, _ := w.db.Exec("SELECT id, secret_hash FROM sessions")
	if len(rows) != 1 || strings.Contains(string(rows[0][1].([]byte)), token[17:]) || !strings.HasPrefix(token, rows[0][0].(string)+".") {
		t.Errorf("sessions table %v: want the id and only a hash of the secret", rows)
	}

	r = w.do("GET", "/v1/me", browser(token), "")
	me := decode(t, r)
	user, sess := me["user"].(map[string]any), me["session"].(map[string]any)
	if r.Status != 200 || user["id"] != "acme#alice-sub" || user["role"] != "admin" || user["email"] != "alice@example.com" || user["provider"] != "acme" || sess["kind"] != "browser" {
		t.Errorf("me: got %d %s", r.Status, r.Body)
	}
	if exp, _ := time.Parse(time.RFC3339, sess["expires"].(string)); !exp.Equal(w.now().Add(8 * time.Hour)) {
		t.Errorf("session expires %v, want sign-in + 8h", sess["expires"])
	}

	// Any other /v1/ path is forwarded with the principal.
	r = w.do("POST", "/v1/runs", browser(token), `{"pipeline":"steps: []"}`)
	if r.Forward == nil || r.Forward.User != "acme#alice-sub" || r.Forward.Role != "admin" || r.Forward.Kind != "browser" || r.Forward.Email != "alice@example.com" || !strings.HasPrefix(token, r.Forward.SessionID+".") {
		t.Errorf("got %+v, want a forward with alice's principal", r)
	}
	// Not signed in: 401 with where to sign in.
	r = w.do("GET", "/v1/runs", nil, "")
	wantStatus(t, r, 401, `"signin":"/signin/"`)
	if r.Forward != nil {
		t.Error("an anonymous request was forwarded")
	}
}

func TestCallbackRefusals(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(w *world)
		run     func(w *world) sessions.Response
		status  int
		message string
	}{
		{name: "reused state", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			cb := w.authorize(s)
			if r := w.callback(cb, sessions.LoginCookie+"="+s.binding); r.Status != 200 {
				w.t.Fatalf("first callback: %d %s", r.Status, r.Body)
			}
			w.db.Exec("DELETE FROM sessions")
			w.db.Exec("DELETE FROM users")
			return w.callback(cb, sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "unknown or already used sign-in"},
		{name: "missing state", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			cb := w.authorize(s)
			q := cb.Query()
			q.Del("state")
			cb.RawQuery = q.Encode()
			return w.callback(cb, sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "has no state"},
		{name: "mismatched state", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			cb := w.authorize(s)
			q := cb.Query()
			q.Set("state", strings.Repeat("A", 43))
			cb.RawQuery = q.Encode()
			return w.callback(cb, sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "does not belong to this sign-in"},
		{name: "tampered login cookie", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			b := []byte(s.binding)
			b[len(b)/2] ^= 1 // still base64url
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+string(b))
		}, status: 400, message: "does not belong to this sign-in"},
		{name: "login cookie truncated", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding[:len(s.binding)-4])
		}, status: 400, message: "does not belong to this sign-in"},
		{name: "login cookie of the old random kind", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+strings.Repeat("A", 43))
		}, status: 400, message: "does not belong to this sign-in"},
		{name: "device_request handle as the login cookie", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			d := decode(w.t, w.do("POST", "/auth/device", nil, `{"provider":"acme"}`))
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+d["device_request"].(string))
		}, status: 400, message: "does not belong to this sign-in"},
		{name: "login cookie sealed before the key was rotated", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			cb := w.authorize(s)
			w.db.Exec("DELETE FROM keys")
			return w.callback(cb, sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "does not belong to this sign-in"},
		{name: "login cookie of another control plane", run: func(w *world) sessions.Response {
			elsewhere := newWorld(w.t) // same configuration, another database and key
			s := elsewhere.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "does not belong to this sign-in"},
		{name: "missing login cookie", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), "")
		}, status: 400, message: "no sign-in cookie"},
		{name: "login cookie of another sign-in", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			attacker := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+attacker.binding)
		}, status: 400, message: "does not belong to this sign-in"},
		{name: "wrong nonce", setup: func(w *world) {
			w.acme.set(func(p *idp) { p.tamper = func(c map[string]any) { c["nonce"] = "attacker-nonce" } })
		}, run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "does not carry this sign-in"},
		{name: "no nonce", setup: func(w *world) {
			w.acme.set(func(p *idp) { p.tamper = func(c map[string]any) { delete(c, "nonce") } })
		}, run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "nonce"},
		{name: "code injection (PKCE verifier mismatch)", run: func(w *world) sessions.Response {
			// The attacker's code, bound to the attacker's code_challenge,
			// injected into the victim's callback.
			attacker := w.startLogin("acme", "")
			attackerCode := w.authorize(attacker).Query().Get("code")
			victim := w.startLogin("acme", "")
			cb := w.authorize(victim)
			q := cb.Query()
			q.Set("code", attackerCode)
			cb.RawQuery = q.Encode()
			return w.callback(cb, sessions.LoginCookie+"="+victim.binding)
		}, status: 400, message: "PKCE verification failed"},
		{name: "ID token from the other provider", setup: func(w *world) {
			w.acme.set(func(p *idp) {
				p.mint = func(c map[string]any) string {
					c["iss"] = w.other.issuer()
					return signRS256(w.t, w.other.key, w.other.kid, c)
				}
			})
		}, run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "issued by"},
		{name: "other provider's token with our issuer", setup: func(w *world) {
			w.acme.set(func(p *idp) {
				p.mint = func(c map[string]any) string { return signRS256(w.t, w.other.key, w.acme.kid, c) }
			})
		}, run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "does not verify"},
		{name: "wrong audience", setup: func(w *world) {
			w.acme.set(func(p *idp) {
				p.tamper = func(c map[string]any) { c["aud"] = "airlock-other"; c["azp"] = "airlock-other" }
			})
		}, run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "audience"},
		{name: "several audiences, azp another client", setup: func(w *world) {
			w.acme.set(func(p *idp) {
				p.tamper = func(c map[string]any) { c["aud"] = []string{"airlock-acme", "x"}; c["azp"] = "x" }
			})
		}, run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "(azp)"},
		{name: "expired ID token", setup: func(w *world) {
			w.acme.set(func(p *idp) {
				p.tamper = func(c map[string]any) { c["exp"] = w.now().Add(-5 * time.Minute).Unix() }
			})
		}, run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "expired"},
		{name: "iss parameter mix-up", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			cb := w.authorize(s)
			q := cb.Query()
			q.Set("iss", w.other.issuer())
			cb.RawQuery = q.Encode()
			return w.callback(cb, sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "names issuer"},
		{name: "iss missing where the provider always sends it", setup: func(w *world) {
			w.acme.set(func(p *idp) { p.sendIss, p.advertIss = false, true })
		}, run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "has no iss"},
		{name: "provider error", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			cb, _ := url.Parse(publicURL + "/auth/callback?" + url.Values{"state": {s.state}, "error": {"access_denied"}, "error_description": {"<script>x</script>"}}.Encode())
			return w.callback(cb, sessions.LoginCookie+"="+s.binding)
		}, status: 403, message: "refused the sign-in: &#34;access_denied&#34; (&#34;&lt;script&gt;x&lt;/script&gt;&#34;)"},
		{name: "sign-in took too long", run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			cb := w.authorize(s)
			w.advance(11 * time.Minute)
			return w.callback(cb, sessions.LoginCookie+"="+s.binding)
		}, status: 400, message: "took longer than 10m0s"},
		{name: "disallowed email domain", setup: func(w *world) { w.acme.setUser(mallory) }, run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
		}, status: 403, message: "mallory@evil.example may not sign in to Airlock through Acme SSO"},
		{name: "unverified email", setup: func(w *world) { w.acme.setUser(carol) }, run: func(w *world) sessions.Response {
			s := w.startLogin("acme", "")
			return w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
		}, status: 403, message: "has not verified the email address"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			if tc.setup != nil {
				tc.setup(w)
			}
			r := tc.run(w)
			wantStatus(t, r, tc.status, tc.message)
			if r.Header["content-type"] != "text/html; charset=utf-8" {
				t.Errorf("content-type %q, want an HTML page for the browser", r.Header["content-type"])
			}
			if _, _, ok := setCookie(r, sessions.SessionCookie); ok || w.count("sessions") != 0 || w.count("users") != 0 {
				t.Errorf("a refused sign-in created something: cookies %v, %d sessions, %d users", r.SetCookie, w.count("sessions"), w.count("users"))
			}
			if want := map[bool]int64{true: 1}[tc.name == "reused state"]; w.count("used_logins") != want {
				t.Errorf("%d used states recorded, want %d: a refusal records nothing", w.count("used_logins"), want)
			}
		})
	}
}

func TestSignInRules(t *testing.T) {
	w := newWorld(t)
	// Bob: allowed by domain (email compared in lower case), a member.
	tok := w.signIn(w.acme, "acme", bob)
	if me := decode(t, w.do("GET", "/v1/me", browser(tok), "")); me["user"].(map[string]any)["role"] != "member" || me["user"].(map[string]any)["email"] != "bob@example.com" {
		t.Errorf("bob: got %v, want a member", me)
	}
	// Dana: no email, allowed by group.
	tok = w.signIn(w.acme, "acme", dana)
	if me := decode(t, w.do("GET", "/v1/me", browser(tok), "")); me["user"].(map[string]any)["role"] != "member" {
		t.Errorf("dana: got %v, want a member", me)
	}
	// Alice through the other provider: admin by email, another user id.
	tok = w.signIn(w.other, "other", alice)
	if me := decode(t, w.do("GET", "/v1/me", browser(tok), "")); me["user"].(map[string]any)["role"] != "admin" || me["user"].(map[string]any)["id"] != "other#alice-sub" {
		t.Errorf("alice via other: got %v, want admin other#alice-sub", me)
	}
	// Carol's unverified email does not count for an admin email either.
	if n := w.count("users"); n != 3 {
		t.Errorf("got %d users, want 3", n)
	}
}

func TestReturnTo(t *testing.T) {
	w := newWorld(t)
	for _, bad := range []string{"https://elsewhere.example", "//evil.example", `/\evil.example`, "javascript:alert(1)", "runs/1", "/a\nb", "/a b", `/"onload`, "/<x>", "/\x7f"} {
		r := w.do("GET", "/auth/login?"+url.Values{"provider": {"acme"}, "return_to": {bad}}.Encode(), nil, "")
		wantStatus(t, r, 400, "return_to")
		if len(r.SetCookie) != 0 {
			t.Errorf("return_to %q: a refused login set a cookie", bad)
		}
	}
	for _, bad := range []string{"provider=nope", "provider=acme&provider=other", ""} {
		r := w.do("GET", "/auth/login?"+bad, nil, "")
		wantStatus(t, r, 400, "provider")
	}
	for _, good := range []string{"/", "/runs/42", "/runs?state=failed&page=2#log", "/" + strings.Repeat("a", 2047)} {
		s := w.startLogin("acme", good)
		r := w.callback(w.authorize(s), sessions.LoginCookie+"="+s.binding)
		if r.Status != 200 || !strings.Contains(string(r.Body), "url="+strings.ReplaceAll(good, "&", "&amp;")+`"`) {
			t.Errorf("return_to %q: got %d %s", good, r.Status, r.Body)
		}
	}
}

func TestSessionFixation(t *testing.T) {
	w := newWorld(t)
	planted := "AAAAAAAAAAAAAAAA." + strings.Repeat("B", 42) + "A"
	earlier := w.signIn(w.acme, "acme", bob)
	for _, old := range []string{planted, earlier} {
		s := w.startLogin("acme", "")
		w.acme.setUser(alice)
		r := w.callback(w.authorize(s), sessions.SessionCookie+"="+old+"; "+sessions.LoginCookie+"="+s.binding)
		tok, _, ok := setCookie(r, sessions.SessionCookie)
		if r.Status != 200 || !ok || tok == old {
			t.Fatalf("got %d, cookie %q; want a new session token", r.Status, tok)
		}
		wantStatus(t, w.do("GET", "/v1/me", browser(old), ""), 401, "session not found")
		if me := decode(t, w.do("GET", "/v1/me", browser(tok), "")); me["user"].(map[string]any)["id"] != "acme#alice-sub" {
			t.Errorf("the new session is %v, want alice's", me)
		}
	}
}

func TestTokenTampering(t *testing.T) {
	w := newWorld(t)
	tok := w.signIn(w.acme, "acme", alice)
	id := tok[:16]
	seen := func() int64 {
		rows, _ := w.db.Exec("SELECT last_seen_ms FROM sessions WHERE id = ?", id)
		return rows[0][0].(int64)
	}
	before := seen()
	w.advance(2 * time.Minute)
	secret := []byte(tok[17:])
	secret[5] ^= 1 // still base64url
	tampered := id + "." + string(secret)
	for _, bad := range []string{tampered, id + "." + strings.Repeat("A", 42) + "E", tok + "x", id, tok[:59]} {
		r := w.do("GET", "/v1/me", browser(bad), "")
		if r.Status != 401 {
			t.Errorf("token %q: got %d %s, want 401", bad, r.Status, r.Body)
		}
	}
	if seen() != before {
		t.Error("a tampered token updated last_seen")
	}
	if r := w.do("GET", "/v1/me", browser(tok), ""); r.Status != 200 || seen() == before {
		t.Errorf("the real token: %d, last_seen %d (was %d); want 200 and an update", r.Status, seen(), before)
	}
}

func TestTokenTransport(t *testing.T) {
	w := newWorld(t)
	btok := w.signIn(w.acme, "acme", alice)
	ctok := w.deviceSignIn(alice)
	cases := []struct {
		name    string
		target  string
		header  map[string]string
		message string
	}{
		{"cookie value as a query parameter", "/v1/me?" + sessions.SessionCookie + "=" + url.QueryEscape(btok), nil, "not signed in"},
		{"token query parameter", "/v1/me?token=" + url.QueryEscape(btok), nil, "not signed in"},
		{"access_token query parameter", "/v1/runs?access_token=" + url.QueryEscape(ctok), nil, "not signed in"},
		{"browser token in Authorization", "/v1/me", bearer(btok), "accepted only from its cookie"},
		{"CLI token as a cookie", "/v1/me", browser(ctok), "only from Authorization: Bearer"},
		{"both", "/v1/me", map[string]string{"authorization": "Bearer " + ctok, "cookie": sessions.SessionCookie + "=" + btok}, "both"},
		{"two session cookies", "/v1/me", map[string]string{"cookie": sessions.SessionCookie + "=" + btok + "; " + sessions.SessionCookie + "=" + btok}, "expected one"},
		{"Basic", "/v1/me", map[string]string{"authorization": "Basic " + btok}, "expected Bearer"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			wantStatus(t, w.do("GET", tc.target, tc.header, ""), 401, tc.message)
		})
	}
	if r := w.do("GET", "/v1/me", bearer(ctok), ""); r.Status != 200 {
		t.Errorf("the CLI token as bearer: %d %s", r.Status, r.Body)
	}
}

// A request Serve forwards may carry a body larger than its own routes
// take (a pipeline submission): the Scheduler holds it to its own limit.
func TestBodyLimits(t *testing.T) {
	w := newWorld(t)
	ctok := w.deviceSignIn(alice)
	h := map[string]string{"authorization": "Bearer " + ctok, "content-type": "application/json"}
	big := `"` + strings.Repeat("a", sessions.MaxBodyBytes) + `"`
	if r := w.do("POST", "/v1/runs", h, big); r.Forward == nil {
		t.Errorf("a %d-byte submission: got %d %s, want it forwarded", len(big), r.Status, r.Body)
	}
	for _, path := range []string{"/auth/logout", "/auth/device", "/v1/sessions/x"} {
		method := "POST"
		if path == "/v1/sessions/x" {
			method = "DELETE"
		}
		wantStatus(t, w.do(method, path, h, big), 413, "over the limit")
	}
}

func TestCSRF(t *testing.T) {
	w := newWorld(t)
	btok := w.signIn(w.acme, "acme", alice)
	ctok := w.deviceSignIn(alice)
	cookie := sessions.SessionCookie + "=" + btok
	cases := []struct {
		name    string
		method  string
		header  map[string]string
		body    string
		status  int
		message string
	}{
		{"cross-site POST", "POST", map[string]string{"cookie": cookie, "sec-fetch-site": "cross-site", "origin": "https://evil.example"}, `{}`, 403, "cross-site request refused"},
		{"same-site POST", "POST", map[string]string{"cookie": cookie, "sec-fetch-site": "same-site", "origin": "https://app.example.com"}, `{}`, 403, "cross-site request refused"},
		{"look-alike Origin", "POST", map[string]string{"cookie": cookie, "origin": "https://ci.example.com.attacker.example"}, `{}`, 403, "cross-origin request refused"},
		{"Origin null", "DELETE", map[string]string{"cookie": cookie, "origin": "null"}, ``, 403, "cross-origin request refused"},
		{"neither Sec-Fetch-Site nor Origin", "POST", map[string]string{"cookie": cookie}, `{}`, 403, "cross-origin request refused"},
		{"Sec-Fetch-Site none", "POST", map[string]string{"cookie": cookie, "sec-fetch-site": "none"}, `{}`, 403, "cross-origin request refused"},
		{"bearer from a cross-site page", "POST", map[string]string{"authorization": "Bearer " + ctok, "sec-fetch-site": "cross-site"}, `{}`, 403, "cross-site request refused"},
		{"form body", "POST", map[string]string{"cookie": cookie, "sec-fetch-site": "same-origin", "content-type": "application/x-www-form-urlencoded"}, `a=b`, 415, "expected application/json"},
		{"text/plain body", "POST", map[string]string{"authorization": "Bearer " + ctok, "content-type": "text/plain"}, `{}`, 415, "expected application/json"},
		{"body too large to forward", "POST", map[string]string{"authorization": "Bearer " + ctok}, `"` + strings.Repeat("a", sessions.MaxForwardBodyBytes) + `"`, 413, "over the limit"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := w.do(tc.method, "/v1/runs", tc.header, tc.body)
			wantStatus(t, r, tc.status, tc.message)
			if r.Forward != nil {
				t.Error("forwarded")
			}
		})
	}
	for _, h := range []map[string]string{
		{"cookie": cookie, "sec-fetch-site": "same-origin"},
		{"cookie": cookie, "origin": publicURL},
		{"authorization": "Bearer " + ctok},
	} {
		if r := w.do("POST", "/v1/runs", h, `{}`); r.Forward == nil {
			t.Errorf("%v: got %d %s, want forwarded", h, r.Status, r.Body)
		}
	}
	// Safe methods need no origin proof.
	if r := w.do("GET", "/v1/runs", map[string]string{"cookie": cookie}, ""); r.Forward == nil {
		t.Errorf("GET with the cookie: %d %s, want forwarded", r.Status, r.Body)
	}
}

func TestTimeouts(t *testing.T) {
	w := newWorld(t)
	// Idle: 1h without use ends the session, and its record.
	tok := w.signIn(w.acme, "acme", alice)
	w.advance(30 * time.Second)
	w.do("GET", "/v1/me", browser(tok), "")
	if rows, _ := w.db.Exec("SELECT last_seen_ms, created_ms FROM sessions"); rows[0][0] != rows[0][1] {
		t.Error("last_seen written again within a minute")
	}
	w.advance(time.Hour - 30*time.Second + time.Second)
	wantStatus(t, w.do("GET", "/v1/me", browser(tok), ""), 401, "expired after 1h0m0s without use")
	if w.count("sessions") != 0 {
		t.Error("the idle session's record was kept")
	}

	// Absolute: in use every 50 minutes, it still ends after 8h.
	tok = w.signIn(w.acme, "acme", alice)
	for i := 1; i <= 9; i++ { // 7h30m
		w.advance(50 * time.Minute)
		if r := w.do("GET", "/v1/me", browser(tok), ""); r.Status != 200 {
			t.Fatalf("after %s: %d %s", time.Duration(i)*50*time.Minute, r.Status, r.Body)
		}
	}
	w.advance(40 * time.Minute) // 8h10m
	wantStatus(t, w.do("GET", "/v1/me", browser(tok), ""), 401, "sessions last at most 8h0m0s")
	if w.count("sessions") != 0 {
		t.Error("the expired session's record was kept")
	}
}

func TestRevocation(t *testing.T) {
	w := newWorld(t)
	laptop := w.signIn(w.acme, "acme", bob)
	phone := w.signIn(w.acme, "acme", bob)
	cli := w.deviceSignIn(bob)
	list := decodeList(t, w.do("GET", "/v1/sessions", browser(phone), ""))
	if len(list) != 3 {
		t.Fatalf("got %d sessions, want 3: %v", len(list), list)
	}
	current := 0
	for _, it := range list {
		m := it.(map[string]any)
		if m["current"] == true {
			current++
			if !strings.HasPrefix(phone, m["id"].(string)+".") {
				t.Errorf("current is %v, want the phone's", m["id"])
			}
		}
		if _, has := m["user"]; has {
			t.Error("a member's own list names the user")
		}
		for _, k := range []string{"id", "kind", "created", "last_seen", "idle_expires", "expires", "user_agent"} {
			if _, ok := m[k]; !ok {
				t.Errorf("session item has no %s: %v", k, m)
			}
		}
	}
	if current != 1 {
		t.Errorf("%d sessions are current, want 1", current)
	}
	// The phone ends the laptop's session: refused on the very next request.
	r := w.do("DELETE", "/v1/sessions/"+laptop[:16], browser(phone), "")
	if r.Status != 204 {
		t.Fatalf("DELETE: %d %s", r.Status, r.Body)
	}
	wantStatus(t, w.do("GET", "/v1/me", browser(laptop), ""), 401, "session not found")
	// The CLI signs itself out.
	if r := w.do("POST", "/auth/logout", bearer(cli), ""); r.Status != 204 {
		t.Errorf("CLI logout: %d %s", r.Status, r.Body)
	}
	wantStatus(t, w.do("GET", "/v1/me", bearer(cli), ""), 401, "session not found")
	// The browser signs out: cookies cleared.
	r = w.do("POST", "/auth/logout", browser(phone), "")
	if v, attrs, ok := setCookie(r, sessions.SessionCookie); r.Status != 204 || !ok || v != "" || !strings.Contains(attrs, "Max-Age=0") || r.Header["clear-site-data"] != `"cookies", "storage"` {
		t.Errorf("logout: %d %v %v", r.Status, r.SetCookie, r.Header)
	}
	wantStatus(t, w.do("GET", "/v1/me", browser(phone), ""), 401, "session not found")
	// Signing out cross-site is refused like any unsafe cookie request.
	other := w.signIn(w.acme, "acme", bob)
	wantStatus(t, w.do("POST", "/auth/logout", map[string]string{"cookie": sessions.SessionCookie + "=" + other, "sec-fetch-site": "cross-site"}, ""), 403, "cross-site")
	if r := w.do("GET", "/v1/me", browser(other), ""); r.Status != 200 {
		t.Errorf("a refused logout ended the session: %d", r.Status)
	}
}

// TestLogoutWithoutCookieFromAnotherOrigin: a cross-site form POST to
// /auth/logout from a browser without Fetch Metadata carries no Strict
// session cookie; it must still be refused, not answered with
// Clear-Site-Data (which would wipe the site's cookies and storage).
func TestLogoutWithoutCookieFromAnotherOrigin(t *testing.T) {
	w := newWorld(t)
	tok := w.signIn(w.acme, "acme", bob)
	before := w.count("sessions")
	for _, tc := range []struct {
		name   string
		header map[string]string
	}{
		{"Origin of another site", map[string]string{"origin": "https://evil.example"}},
		{"Origin null", map[string]string{"origin": "null"}},
		{"look-alike Origin", map[string]string{"origin": publicURL + ".attacker.example"}},
		{"no Origin, no Fetch Metadata", map[string]string{}},
		{"Sec-Fetch-Site none", map[string]string{"sec-fetch-site": "none"}},
		{"cross-site", map[string]string{"sec-fetch-site": "cross-site", "origin": "https://evil.example"}},
		{"same-site", map[string]string{"sec-fetch-site": "same-site", "origin": "https://app.example.com"}},
		{"cookie from another Origin", map[string]string{"cookie": sessions.SessionCookie + "=" + tok, "origin": "https://evil.example"}},
		{"cookie and a bearer token from another Origin", map[string]string{"cookie": sessions.SessionCookie + "=" + tok, "authorization": "Bearer " + tok, "origin": "https://evil.example"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := w.do("POST", "/auth/logout", tc.header, "")
			if r.Status != 403 || r.Header["clear-site-data"] != "" || len(r.SetCookie) != 0 {
				t.Errorf("got %d, Clear-Site-Data %q, Set-Cookie %q; want 403 and nothing cleared", r.Status, r.Header["clear-site-data"], r.SetCookie)
			}
		})
	}
	if w.count("sessions") != before {
		t.Error("a refused logout ended a session")
	}
	if r := w.do("GET", "/v1/me", browser(tok), ""); r.Status != 200 {
		t.Errorf("the session after the refused logouts: %d", r.Status)
	}
	// From our own pages it still signs out, with or without a session.
	for _, h := range []map[string]string{{"sec-fetch-site": "same-origin"}, {"origin": publicURL}} {
		if r := w.do("POST", "/auth/logout", h, ""); r.Status != 204 || r.Header["clear-site-data"] != `"cookies", "storage"` {
			t.Errorf("same-origin logout without a session (%v): %d %v", h, r.Status, r.Header)
		}
	}
	// A CLI signs out with its bearer token, from no origin at all.
	cli := w.deviceSignIn(bob)
	if r := w.do("POST", "/auth/logout", bearer(cli), ""); r.Status != 204 {
		t.Errorf("bearer logout: %d %s", r.Status, r.Body)
	}
	wantStatus(t, w.do("GET", "/v1/me", bearer(cli), ""), 401, "session not found")
}

func TestAdministration(t *testing.T) {
	w := newWorld(t)
	admin := w.signIn(w.acme, "acme", alice)
	bob1 := w.signIn(w.acme, "acme", bob)
	bob2 := w.deviceSignIn(bob)
	member := w.signIn(w.acme, "acme", dana)

	// A member cannot touch another user's sessions, nor see them.
	wantStatus(t, w.do("DELETE", "/v1/sessions/"+bob1[:16], browser(member), ""), 404, "not found")
	wantStatus(t, w.do("DELETE", "/v1/sessions/"+admin[:16], browser(member), ""), 404, "not found")
	wantStatus(t, w.do("DELETE", "/v1/users/acme%23bob-sub/sessions", browser(member), ""), 403, "admin role")
	wantStatus(t, w.do("GET", "/v1/sessions?all=1", browser(member), ""), 403, "admin role")
	wantStatus(t, w.do("GET", "/v1/sessions?user=acme%23bob-sub", browser(member), ""), 403, "admin role")
	wantStatus(t, w.do("GET", "/v1/users", browser(member), ""), 403, "admin role")
	if r := w.do("GET", "/v1/me", browser(bob1), ""); r.Status != 200 {
		t.Fatalf("bob's session was ended by a member: %d", r.Status)
	}

	// The admin sees everyone.
	users := decode(t, w.do("GET", "/v1/users", browser(admin), ""))["users"].([]any)
	if len(users) != 3 {
		t.Errorf("got %d users, want 3", len(users))
	}
	all := decodeList(t, w.do("GET", "/v1/sessions?all=1", browser(admin), ""))
	if len(all) != 4 || all[0].(map[string]any)["user"].(map[string]any)["email"] != "alice@example.com" {
		t.Errorf("all sessions: got %v, want 4 naming their users", all)
	}
	bobs := decodeList(t, w.do("GET", "/v1/sessions?user=acme%23bob-sub", browser(admin), ""))
	if len(bobs) != 2 {
		t.Errorf("bob's sessions: got %d, want 2", len(bobs))
	}
	// Offboarding: every session of bob's ends at once.
	r := w.do("DELETE", "/v1/users/acme%23bob-sub/sessions", browser(admin), "")
	if r.Status != 200 || string(r.Body) != `{"ended":2}`+"\n" {
		t.Fatalf("end bob's sessions: %d %s", r.Status, r.Body)
	}
	wantStatus(t, w.do("GET", "/v1/me", browser(bob1), ""), 401, "session not found")
	wantStatus(t, w.do("GET", "/v1/me", bearer(bob2), ""), 401, "session not found")
	wantStatus(t, w.do("DELETE", "/v1/users/acme%23nobody/sessions", browser(admin), ""), 404, "not found")
	// An admin may end anyone's single session.
	if r := w.do("DELETE", "/v1/sessions/"+member[:16], browser(admin), ""); r.Status != 204 {
		t.Errorf("admin ends a member's session: %d %s", r.Status, r.Body)
	}
	// Wrong methods name the allowed ones.
	r = w.do("POST", "/v1/me", browser(admin), "")
	if r.Status != 405 || r.Header["allow"] != "GET" {
		t.Errorf("POST /v1/me: %d allow %q", r.Status, r.Header["allow"])
	}
}

// deviceSignIn runs the device flow for u and returns the CLI token.
func (w *world) deviceSignIn(u idpUser) string {
	w.t.Helper()
	r := w.do("POST", "/auth/device", map[string]string{"user-agent": "airlock-cli/test"}, `{"provider":"acme"}`)
	d := decode(w.t, r)
	if r.Status != 200 {
		w.t.Fatalf("device: %d %s", r.Status, r.Body)
	}
	w.acme.approve(d["user_code"].(string), u)
	r = w.do("POST", "/auth/device/token", nil, `{"device_request":"`+d["device_request"].(string)+`"}`)
	if r.Status != 200 {
		w.t.Fatalf("device token: %d %s", r.Status, r.Body)
	}
	return decode(w.t, r)["token"].(string)
}

func TestDeviceFlow(t *testing.T) {
	w := newWorld(t)
	r := w.do("POST", "/auth/device", nil, `{"provider":"acme"}`)
	d := decode(t, r)
	if r.Status != 200 || d["verification_uri"] != w.acme.issuer()+"/activate" || d["interval"] != 5.0 || d["expires_in"] != 600.0 || d["user_code"] == "" {
		t.Fatalf("device: %d %s", r.Status, r.Body)
	}
	handle := d["device_request"].(string)
	if len(handle) < 22 {
		t.Errorf("device_request %q: want at least 128 random bits", handle)
	}
	if n := w.count("sessions") + w.count("used_device_requests"); n != 0 {
		t.Errorf("POST /auth/device stored %d rows, want none", n)
	}
	poll := func() sessions.Response {
		return w.do("POST", "/auth/device/token", map[string]string{"user-agent": "airlock-cli/test"}, `{"device_request":"`+handle+`"}`)
	}
	wantStatus(t, poll(), 400, `"error":"authorization_pending"`)
	// No local rate limit (that would need state per anonymous request):
	// an early poll reaches the provider, and its slow_down is passed
	// through with the interval raised by 5 seconds.
	calls := w.acme.tokenCalls
	wantStatus(t, poll(), 400, `"error":"authorization_pending","id"`)
	if w.acme.tokenCalls != calls+1 {
		t.Error("the poll did not reach the provider")
	}
	w.acme.set(func(p *idp) { p.slowDown = true })
	wantStatus(t, poll(), 400, `"error":"slow_down"`)
	if r := poll(); !strings.Contains(string(r.Body), `"interval":10`) {
		t.Errorf("slow_down: %s, want the interval raised to 10", r.Body)
	}
	w.acme.set(func(p *idp) { p.slowDown = false })
	if n := w.count("sessions") + w.count("used_device_requests"); n != 0 {
		t.Errorf("polling a pending device request stored %d rows, want none", n)
	}
	w.acme.approve(d["user_code"].(string), bob)
	w.advance(5 * time.Second)
	r = poll()
	out := decode(t, r)
	if r.Status != 200 || out["user"].(map[string]any)["id"] != "acme#bob-sub" || out["session"].(map[string]any)["kind"] != "cli" {
		t.Fatalf("device token: %d %s", r.Status, r.Body)
	}
	token := out["token"].(string)
	me := decode(t, w.do("GET", "/v1/me", bearer(token), ""))
	if me["session"].(map[string]any)["kind"] != "cli" || me["user"].(map[string]any)["role"] != "member" {
		t.Errorf("me: %v", me)
	}
	// The handle is spent: refused without asking the provider.
	if rows, _ := w.db.Exec("SELECT handle_hash FROM used_device_requests"); len(rows) != 1 || strings.Contains(rows[0][0].(string), handle) {
		t.Errorf("used_device_requests %v: want one row, a hash of the handle", rows)
	}
	w.advance(5 * time.Second)
	calls = w.acme.tokenCalls
	wantStatus(t, poll(), 400, "unknown or already used device_request")
	if w.acme.tokenCalls != calls {
		t.Error("a spent handle reached the provider")
	}

	// Bad requests.
	wantStatus(t, w.do("POST", "/auth/device", nil, `{"provider":"nope"}`), 400, "unknown provider")
	wantStatus(t, w.do("POST", "/auth/device", nil, `{"provider":"acme","x":1}`), 400, "unknown field")
	wantStatus(t, w.do("POST", "/auth/device", nil, `{"provider":"acme","Provider":"other"}`), 400, "duplicate field")
	wantStatus(t, w.do("POST", "/auth/device", nil, ``), 400, "empty request body")
	wantStatus(t, w.do("POST", "/auth/device/token", nil, `{"device_request":"guess"}`), 400, "unknown or already used")

	// Handles not sealed by us for the device flow are unknown.
	s := w.startLogin("acme", "")
	tampered := []byte(handle)
	tampered[30] ^= 1
	for _, h := range []string{s.binding, s.state, string(tampered), handle[:len(handle)-1], handle + "A", strings.ToUpper(handle), " " + handle, strings.Repeat("A", 43), strings.Repeat("A", 20000)} {
		wantStatus(t, w.do("POST", "/auth/device/token", nil, `{"device_request":"`+h+`"}`), 400, "unknown or already used device_request")
	}

	// Denied and disallowed users end the request (at the provider).
	for _, tc := range []struct {
		user    *idpUser
		status  int
		message string
	}{{nil, 400, "access_denied"}, {&mallory, 403, "may not sign in"}} {
		d := decode(t, w.do("POST", "/auth/device", nil, `{"provider":"acme"}`))
		if tc.user == nil {
			w.acme.set(func(p *idp) {
				for _, g := range p.devices {
					if g.userCode == d["user_code"] {
						g.denied = true
					}
				}
			})
		} else {
			w.acme.approve(d["user_code"].(string), *tc.user)
		}
		body := `{"device_request":"` + d["device_request"].(string) + `"}`
		wantStatus(t, w.do("POST", "/auth/device/token", nil, body), tc.status, tc.message)
		w.advance(5 * time.Second)
		// The provider has forgotten the device code: its answer is
		// passed through, and no token is made.
		wantStatus(t, w.do("POST", "/auth/device/token", nil, body), 400, `"error":"invalid_grant"`)
	}
	// Expired: refused without asking the provider.
	d = decode(t, w.do("POST", "/auth/device", nil, `{"provider":"acme"}`))
	w.advance(11 * time.Minute)
	calls = w.acme.tokenCalls
	wantStatus(t, w.do("POST", "/auth/device/token", nil, `{"device_request":"`+d["device_request"].(string)+`"}`), 400, "expired_token")
	if w.acme.tokenCalls != calls {
		t.Error("an expired handle reached the provider")
	}
}

func TestSweep(t *testing.T) {
	w := newWorld(t)
	w.signIn(w.acme, "acme", alice)
	w.deviceSignIn(bob)
	w.startLogin("acme", "")
	w.do("POST", "/auth/device", nil, `{"provider":"acme"}`)
	counts := func() string {
		return fmt.Sprintf("%d %d %d %d", w.count("used_logins"), w.count("used_device_requests"), w.count("sessions"), w.count("keys"))
	}
	if err := w.svc.Sweep(w.now()); err != nil || counts() != "1 1 2 1" {
		t.Errorf("Sweep now: %v, left %s; want nothing deleted", err, counts())
	}
	// The replay records go when the sealed attempts they guard expire
	// (10 minutes for a browser, the provider's expires_in for a device).
	w.advance(10 * time.Minute)
	if err := w.svc.Sweep(w.now()); err != nil || counts() != "0 0 2 1" {
		t.Errorf("Sweep after 10 minutes: %v, left %s; want the used states and handles deleted", err, counts())
	}
	w.advance(2 * time.Hour)
	if err := w.svc.Sweep(w.now()); err != nil || counts() != "0 0 0 1" {
		t.Errorf("Sweep later: %v, left %s; want the idle sessions deleted, the key kept", err, counts())
	}
}

// TestFetchDoesNotHoldTheLock: while one request waits for the provider,
// others are answered.
func TestFetchDoesNotHoldTheLock(t *testing.T) {
	w := newWorld(t)
	tok := w.signIn(w.acme, "acme", alice)
	release, entered := make(chan struct{}), make(chan struct{}, 1)
	w.acme.set(func(p *idp) { p.block, p.entered = release, entered })
	s := w.startLogin("acme", "")
	cb := w.authorize(s)
	done := make(chan sessions.Response)
	go func() {
		done <- w.svc.Serve(context.Background(), sessions.Request{Method: "GET", URL: cb.String(), Header: map[string]string{"cookie": sessions.LoginCookie + "=" + s.binding}})
	}()
	<-entered // the sign-in now awaits the provider's token endpoint
	if r := w.do("GET", "/v1/me", browser(tok), ""); r.Status != 200 {
		t.Errorf("/v1/me while a sign-in awaits the provider: %d", r.Status)
	}
	close(release)
	if r := <-done; r.Status != 200 {
		t.Errorf("the blocked sign-in: %d %s", r.Status, r.Body)
	}
}

func TestNewRefusesMissingSecretAndNewerSchema(t *testing.T) {
	w := newWorld(t)
	if _, err := sessions.New(w.db, httpfetch.New(0, 0), w.now, w.cfg, func(string) string { return "" }, nil); err == nil || !strings.Contains(err.Error(), "ACME_SECRET is not set") {
		t.Errorf("got %v, want the missing secret named", err)
	}
	secret := func(string) string { return "x" }
	if _, err := sessions.New(w.db, httpfetch.New(0, 0), w.now, w.cfg, secret, nil); err != nil {
		t.Errorf("reopening: %v", err)
	}
	w.db.Exec("UPDATE meta SET value = 99 WHERE key = 'schema'")
	if _, err := sessions.New(w.db, httpfetch.New(0, 0), w.now, w.cfg, secret, nil); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("got %v, want a refusal of a newer schema", err)
	}
}

func TestRouting(t *testing.T) {
	w := newWorld(t)
	wantStatus(t, w.do("GET", "/nope", nil, ""), 404, "no such endpoint")
	r := w.do("POST", "/auth/providers", nil, "")
	if r.Status != 405 || r.Header["allow"] != "GET" {
		t.Errorf("POST /auth/providers: %d allow %q", r.Status, r.Header["allow"])
	}
	if r := w.do("HEAD", "/auth/providers", nil, ""); r.Status != 200 {
		t.Errorf("HEAD: %d", r.Status)
	}
	if r := w.do("HEAD", "/auth/login?provider=acme", nil, ""); r.Status != 405 || len(r.SetCookie) != 0 {
		t.Errorf("HEAD /auth/login: %d, cookies %v; want 405 and no sign-in started", r.Status, r.SetCookie)
	}
	// The sign-in routes answer errors with a page, and a 405 page names
	// the allowed method too (RFC 9110 §15.5.6).
	for _, tc := range []struct{ method, target string }{
		{"HEAD", "/auth/login?provider=acme"}, {"HEAD", "/auth/callback?state=x&code=y"},
		{"POST", "/auth/login"}, {"POST", "/auth/callback"}, {"PUT", "/auth/login"},
	} {
		r := w.do(tc.method, tc.target, map[string]string{"sec-fetch-site": "same-origin"}, "")
		if r.Status != 405 || r.Header["allow"] != "GET" || r.Header["content-type"] != "text/html; charset=utf-8" {
			t.Errorf("%s %s: %d, Allow %q, content-type %q; want a 405 page with Allow: GET", tc.method, tc.target, r.Status, r.Header["allow"], r.Header["content-type"])
		}
	}
}
