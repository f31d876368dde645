//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/airlockci/airlock/internal/cliauth"
	"github.com/airlockci/airlock/internal/devidp"
	"github.com/airlockci/airlock/internal/devstack"
)

// The sign-in and session rules attacked on the real deployment: wrangler
// dev on workerd with the edge's Wasm build, the Worker shim, the static
// assets and their _headers, the development identity provider on
// localhost and the control plane on 127.0.0.1 (two sites, as in
// production). The browser is driven by hand with net/http: no redirects
// are followed and cookies are sent by hand (Go's cookiejar would not send
// the Secure __Host- cookies over http, which browsers do on loopback).
//
// Every refusal is checked together with its absence of effect: no session
// created or ended, no run submitted.

const (
	sessionCookieName = "__Host-airlock_session"
	loginCookieName   = "__Host-airlock_login"
)

// ssoClient is a hand-driven browser (and API client) for the shared stack.
type ssoClient struct {
	s   *stack
	cp  *http.Client // the control plane: no redirects, no cookie jar
	idp *http.Client // the identity provider (plain http cookies): a jar, no redirects
}

func newSSOClient(t *testing.T, s *stack) *ssoClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	noRedirect := func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &ssoClient{
		s:   s,
		cp:  &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirect},
		idp: &http.Client{Timeout: 30 * time.Second, CheckRedirect: noRedirect, Jar: jar},
	}
}

// answer is one response, its body read.
type answer struct {
	code int
	body string
	h    http.Header
}

func (a answer) String() string {
	b := a.body
	if len(b) > 300 {
		b = b[:300] + "…"
	}
	return fmt.Sprintf("%d %q", a.code, b)
}

// send makes one request to the control plane. target is a path on it or
// a full URL; hdr are header name-value pairs, added in order (a name may
// repeat).
func (c *ssoClient) send(t *testing.T, method, target string, body []byte, hdr ...string) answer {
	t.Helper()
	if strings.HasPrefix(target, "/") {
		target = c.s.cp.URL + target
	}
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, target, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		if strings.EqualFold(hdr[i], "Host") {
			req.Host = hdr[i+1]
			continue
		}
		req.Header[http.CanonicalHeaderKey(hdr[i])] = append(req.Header[http.CanonicalHeaderKey(hdr[i])], hdr[i+1])
	}
	resp, err := c.cp.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, body: string(data), h: resp.Header}
}

// bearer and cookie are the header pairs of the two kinds of credential.
func bearer(token string) []string { return []string{"Authorization", "Bearer " + token} }
func cookie(token string) []string { return []string{"Cookie", sessionCookieName + "=" + token} }

// sameOrigin is what a browser sends on a fetch from our own pages.
func sameOrigin(extra ...string) []string {
	return append([]string{"Sec-Fetch-Site", "same-origin", "Content-Type", "application/json"}, extra...)
}

func hdrs(parts ...[]string) []string {
	var out []string
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// setCookies maps each cookie name in the answer's Set-Cookie headers to
// its whole header value.
func setCookies(a answer) map[string]string {
	out := map[string]string{}
	for _, v := range a.h.Values("Set-Cookie") {
		name, _, _ := strings.Cut(v, "=")
		out[strings.TrimSpace(name)] = v
	}
	return out
}

// cookieValue is the value of the Set-Cookie line for name ("" if none).
func cookieValue(a answer, name string) string {
	line, ok := setCookies(a)[name]
	if !ok {
		return ""
	}
	c, err := http.ParseSetCookie(line)
	if err != nil {
		return ""
	}
	return c.Value
}

// allSessions is every live session's id (the admin listing), read with
// the shared admin CLI session.
func (c *ssoClient) allSessions(t *testing.T) map[string]string {
	t.Helper()
	a := c.send(t, "GET", "/v1/sessions?all=1", nil, bearer(c.s.token)...)
	if a.code != 200 {
		t.Fatalf("listing all sessions: %s", a)
	}
	var list []struct {
		ID   string `json:"id"`
		Kind string `json:"kind"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	}
	if err := json.Unmarshal([]byte(a.body), &list); err != nil {
		t.Fatalf("listing all sessions: %v in %s", err, a)
	}
	out := map[string]string{}
	for _, s := range list {
		out[s.ID] = s.User.ID + "/" + s.Kind
	}
	return out
}

// unchanged fails the test when the set of sessions differs from before.
func (c *ssoClient) unchanged(t *testing.T, before map[string]string) {
	t.Helper()
	after := c.allSessions(t)
	for id, who := range after {
		if _, ok := before[id]; !ok {
			t.Errorf("a session was created: %s (%s)", id, who)
		}
	}
	for id, who := range before {
		if _, ok := after[id]; !ok {
			t.Errorf("a session was ended: %s (%s)", id, who)
		}
	}
}

// latestRun is the number of the newest run (0 when there is none).
func (c *ssoClient) latestRun(t *testing.T) int {
	t.Helper()
	a := c.send(t, "GET", "/v1/runs?limit=1", nil, bearer(c.s.token)...)
	if a.code != 200 {
		t.Fatalf("listing runs: %s", a)
	}
	var v struct {
		Runs []struct {
			Number int `json:"number"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		t.Fatalf("listing runs: %v in %s", err, a)
	}
	if len(v.Runs) == 0 {
		return 0
	}
	return v.Runs[0].Number
}

// meAs asks GET /v1/me with the given headers and returns the user's id
// ("" when refused).
func (c *ssoClient) meAs(t *testing.T, hdr ...string) (string, answer) {
	t.Helper()
	a := c.send(t, "GET", "/v1/me", nil, hdr...)
	if a.code != 200 {
		return "", a
	}
	var v struct {
		User struct {
			ID   string `json:"id"`
			Role string `json:"role"`
		} `json:"user"`
		Session struct {
			ID   string `json:"id"`
			Kind string `json:"kind"`
		} `json:"session"`
	}
	if err := json.Unmarshal([]byte(a.body), &v); err != nil {
		t.Fatalf("/v1/me: %v in %s", err, a)
	}
	return v.User.ID, a
}

func sessionIDOf(token string) string { id, _, _ := strings.Cut(token, "."); return id }

func userID(username string) string { return devstack.DevProvider + "#" + devidp.SubjectFor(username) }

// attempt is a started browser sign-in.
type attempt struct {
	binding   string // the login cookie's value
	authorize string // where /auth/login sent the browser
	state     string
}

func (a attempt) loginCookie() []string { return []string{"Cookie", loginCookieName + "=" + a.binding} }

// startLogin is GET /auth/login for the development provider.
func (c *ssoClient) startLogin(t *testing.T, returnTo string) attempt {
	t.Helper()
	q := url.Values{"provider": {devstack.DevProvider}}
	if returnTo != "" {
		q.Set("return_to", returnTo)
	}
	a := c.send(t, "GET", "/auth/login?"+q.Encode(), nil)
	if a.code != 302 {
		t.Fatalf("GET /auth/login: %s, want 302", a)
	}
	at := attempt{binding: cookieValue(a, loginCookieName), authorize: a.h.Get("Location")}
	u, err := url.Parse(at.authorize)
	if err != nil || !strings.HasPrefix(at.authorize, c.s.sso.IdP.Issuer()+"/") {
		t.Fatalf("GET /auth/login sent the browser to %q, want the provider %s", at.authorize, c.s.sso.IdP.Issuer())
	}
	at.state = u.Query().Get("state")
	if at.binding == "" || at.state == "" {
		t.Fatalf("GET /auth/login: no login cookie or no state: %v %q", a.h.Values("Set-Cookie"), at.authorize)
	}
	return at
}

// approve signs username in at the provider (its login form) and returns
// the URL the provider sends the browser back to (our /auth/callback).
func (c *ssoClient) approve(t *testing.T, authorize, username string) string {
	t.Helper()
	next := authorize
	for hop := 0; hop < 10; hop++ {
		if strings.HasPrefix(next, c.s.cp.URL+"/") {
			return next
		}
		u, err := url.Parse(next)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := c.idp.Get(next)
		if err != nil {
			t.Fatal(err)
		}
		page, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if u.Path == "/login" && resp.StatusCode == 200 {
			// The login form: its fields as the page names them.
			for _, field := range []string{`name="authRequestID"`, `name="username"`, `name="password"`, `action="/login"`} {
				if !strings.Contains(string(page), field) {
					t.Fatalf("the provider's login page lacks %s:\n%s", field, page)
				}
			}
			form := url.Values{
				"authRequestID": {u.Query().Get("authRequestID")},
				"username":      {username},
				"password":      {devstack.Password(username)},
			}
			resp, err = c.idp.PostForm(u.Scheme+"://"+u.Host+"/login", form)
			if err != nil {
				t.Fatal(err)
			}
			page, _ = io.ReadAll(resp.Body)
			resp.Body.Close()
		}
		if resp.StatusCode < 300 || resp.StatusCode > 399 {
			t.Fatalf("the provider answered %s %d: %s", next, resp.StatusCode, page)
		}
		loc, err := u.Parse(resp.Header.Get("Location"))
		if err != nil {
			t.Fatal(err)
		}
		next = loc.String()
	}
	t.Fatalf("the provider never sent the browser back to %s", c.s.cp.URL)
	return ""
}

// callback is the browser's GET of the callback URL with the headers given.
func (c *ssoClient) callback(t *testing.T, cb string, hdr ...string) answer {
	t.Helper()
	return c.send(t, "GET", cb, nil, hdr...)
}

// signIn is a whole browser sign-in; it returns the session cookie's value.
func (c *ssoClient) signIn(t *testing.T, username string) string {
	t.Helper()
	at := c.startLogin(t, "/")
	a := c.callback(t, c.approve(t, at.authorize, username), at.loginCookie()...)
	tok := cookieValue(a, sessionCookieName)
	if a.code != 200 || tok == "" {
		t.Fatalf("sign-in of %s: callback answered %s, cookies %v", username, a, a.h.Values("Set-Cookie"))
	}
	return tok
}

// cliSession is a CLI sign-in of username (device flow, approved at the
// provider).
func (c *ssoClient) cliSession(t *testing.T, username string) string {
	t.Helper()
	tok, err := c.s.sso.SignInCLI(context.Background(), c.s.cp.URL, username)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// submitBody is a run no agent will ever take (its tag matches none).
func submitBody() []byte {
	b, _ := json.Marshal(map[string]string{
		"pipeline": "steps:\n  - key: never\n    command: \"true\"\n    agents: {sso-e2e: never-matches}\n",
		"filename": "sso-e2e.yml", "message": "sso e2e",
	})
	return b
}

// cancelRun cancels a run the test submitted (so that it holds nothing).
func (c *ssoClient) cancelRun(t *testing.T, a answer) {
	t.Helper()
	var v struct {
		ID string `json:"id"`
	}
	if json.Unmarshal([]byte(a.body), &v) == nil && v.ID != "" {
		c.send(t, "POST", "/v1/runs/"+v.ID+"/cancel", nil, bearer(c.s.token)...)
	}
}

// checkSecurityHeaders checks the headers every API answer carries.
func checkSecurityHeaders(t *testing.T, what string, a answer) {
	t.Helper()
	want := map[string]string{
		"Content-Security-Policy":      "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
		"X-Content-Type-Options":       "nosniff",
		"Referrer-Policy":              "no-referrer",
		"Cache-Control":                "no-store",
		"Strict-Transport-Security":    "max-age=63072000; includeSubDomains",
		"Cross-Origin-Opener-Policy":   "same-origin",
		"Cross-Origin-Resource-Policy": "same-origin",
		"X-Frame-Options":              "DENY",
	}
	for k, v := range want {
		if got := a.h.Values(k); len(got) != 1 || got[0] != v {
			t.Errorf("%s (%d): %s is %q, want exactly %q", what, a.code, k, got, v)
		}
	}
	if v := a.h.Get("Access-Control-Allow-Origin"); v != "" {
		t.Errorf("%s: grants CORS: Access-Control-Allow-Origin %q", what, v)
	}
}

// TestSSOBrowserSignIn: the whole browser sign-in over HTTP, the cookie
// it sets, and the callback page.
func TestSSOBrowserSignIn(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)

	t.Run("sign-in works and sets exactly the documented cookie", func(t *testing.T) {
		before := c.allSessions(t)
		at := c.startLogin(t, "/runs/?x=1&y=2")
		login := setCookies(c.send(t, "GET", "/auth/login?provider=dev", nil))[loginCookieName]
		for _, attr := range []string{"HttpOnly", "Secure", "SameSite=Lax", "Path=/"} {
			if !strings.Contains(login, attr) {
				t.Errorf("login cookie %q lacks %s", login, attr)
			}
		}
		u, _ := url.Parse(at.authorize)
		q := u.Query()
		if q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43 || len(q.Get("nonce")) != 43 || q.Get("redirect_uri") != s.cp.URL+"/auth/callback" {
			t.Errorf("authorization request lacks PKCE S256, a nonce or our redirect_uri: %s", at.authorize)
		}
		cb := c.approve(t, at.authorize, "alice")
		if cu, _ := url.Parse(cb); cu.Query().Get("iss") != s.sso.IdP.Issuer() || cu.Query().Get("state") != at.state {
			t.Errorf("the provider's answer %s lacks iss or our state", cb)
		}
		a := c.callback(t, cb, at.loginCookie()...)
		if a.code != 200 {
			t.Fatalf("callback: %s, want 200", a)
		}
		checkSecurityHeaders(t, "callback page", a)
		var sessionLine string
		for _, v := range a.h.Values("Set-Cookie") {
			if strings.HasPrefix(v, sessionCookieName+"=") {
				if sessionLine != "" {
					t.Errorf("two session cookies set: %q and %q", sessionLine, v)
				}
				sessionLine = v
			}
		}
		parts := strings.Split(sessionLine, "; ")
		tok := strings.TrimPrefix(parts[0], sessionCookieName+"=")
		attrs := map[string]bool{}
		for _, p := range parts[1:] {
			attrs[p] = true
		}
		want := map[string]bool{"HttpOnly": true, "Secure": true, "SameSite=Strict": true, "Path=/": true, "Max-Age=86400": true}
		if fmt.Sprint(attrs) != fmt.Sprint(want) || len(tok) != 60 {
			t.Errorf("session cookie %q: attributes %v, want exactly %v (no Domain, no Expires) and a 60-character token", sessionLine, attrs, want)
		}
		if strings.Contains(strings.ToLower(sessionLine), "domain") {
			t.Errorf("session cookie has a Domain: %q", sessionLine)
		}
		if l := setCookies(a)[loginCookieName]; !strings.Contains(l, "Max-Age=0") {
			t.Errorf("the login cookie is not cleared by the callback: %q", l)
		}
		if a.h.Get("Location") != "" {
			t.Errorf("the callback redirects (a Strict cookie would be lost): Location %q", a.h.Get("Location"))
		}
		if !strings.Contains(a.body, `content="0;url=/runs/?x=1&amp;y=2"`) || !strings.Contains(a.body, `href="/runs/?x=1&amp;y=2"`) {
			t.Errorf("callback page does not continue to return_to, escaped: %s", a.body)
		}
		if strings.Contains(a.body, tok) {
			t.Errorf("the callback page shows the token")
		}
		id, me := c.meAs(t, cookie(tok)...)
		if id != userID("alice") {
			t.Fatalf("GET /v1/me with the new cookie: %s", me)
		}
		after := c.allSessions(t)
		if len(after) != len(before)+1 || after[sessionIDOf(tok)] != userID("alice")+"/browser" {
			t.Errorf("sessions: %d before, %d after; new one %q", len(before), len(after), after[sessionIDOf(tok)])
		}
	})

	t.Run("the session cookie already held is replaced and ends (fixation)", func(t *testing.T) {
		old := c.signIn(t, "alice")
		at := c.startLogin(t, "/")
		cb := c.approve(t, at.authorize, "alice")
		a := c.callback(t, cb, "Cookie", loginCookieName+"="+at.binding+"; "+sessionCookieName+"="+old)
		nu := cookieValue(a, sessionCookieName)
		if a.code != 200 || nu == "" || nu == old {
			t.Fatalf("callback with an old session cookie: %s, new cookie %q", a, nu)
		}
		if id, me := c.meAs(t, cookie(old)...); id != "" {
			t.Errorf("the old session still works after a new sign-in in the same browser: %s", me)
		}
		if id, me := c.meAs(t, cookie(nu)...); id == "" {
			t.Errorf("the new session does not work: %s", me)
		}
	})

	t.Run("a user the rules do not allow gets 403 and no session", func(t *testing.T) {
		for _, user := range []string{"mallory", "unverified"} {
			before := c.allSessions(t)
			at := c.startLogin(t, "/")
			a := c.callback(t, c.approve(t, at.authorize, user), at.loginCookie()...)
			if a.code != 403 || cookieValue(a, sessionCookieName) != "" || !strings.Contains(a.h.Get("Content-Type"), "text/html") {
				t.Errorf("%s: %s, want a 403 page without a session cookie", user, a)
			}
			checkSecurityHeaders(t, "callback 403 page", a)
			c.unchanged(t, before)
		}
	})
}

// TestSSOCallbackAttacks: state, login-cookie binding, PKCE and nonce,
// issuer mix-up, as the deployed stack checks them.
func TestSSOCallbackAttacks(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)
	refused := func(t *testing.T, a answer, want string) {
		t.Helper()
		if a.code < 400 || a.code > 499 || !strings.Contains(a.body, want) {
			t.Errorf("got %s, want a 4xx page saying %q", a, want)
		}
		if v := cookieValue(a, sessionCookieName); v != "" {
			t.Errorf("a refused callback set a session cookie")
		}
		if !strings.Contains(a.h.Get("Content-Type"), "text/html") {
			t.Errorf("a refused callback is not a page: %q", a.h.Get("Content-Type"))
		}
		checkSecurityHeaders(t, "refused callback", a)
	}

	t.Run("replayed callback URL", func(t *testing.T) {
		at := c.startLogin(t, "/")
		cb := c.approve(t, at.authorize, "alice")
		if a := c.callback(t, cb, at.loginCookie()...); a.code != 200 {
			t.Fatalf("first use: %s", a)
		}
		before := c.allSessions(t)
		refused(t, c.callback(t, cb, at.loginCookie()...), "unknown or already used sign-in")
		c.unchanged(t, before)
	})

	t.Run("state of another attempt with this browser's login cookie", func(t *testing.T) {
		mine := c.startLogin(t, "/")
		theirs := c.startLogin(t, "/")
		cb := c.approve(t, theirs.authorize, "alice")
		before := c.allSessions(t)
		refused(t, c.callback(t, cb, mine.loginCookie()...), "does not belong to this sign-in")
		c.unchanged(t, before)
		// The refusal did not burn the other browser's sign-in: it still
		// completes with its own cookie.
		if a := c.callback(t, cb, theirs.loginCookie()...); a.code != 200 || cookieValue(a, sessionCookieName) == "" {
			t.Errorf("the rightful browser's callback after the refused one: %s", a)
		}
	})

	t.Run("callback without the login cookie (login CSRF)", func(t *testing.T) {
		at := c.startLogin(t, "/")
		cb := c.approve(t, at.authorize, "bob")
		before := c.allSessions(t)
		refused(t, c.callback(t, cb), "no sign-in cookie")
		refused(t, c.callback(t, cb, "Cookie", loginCookieName+"="), "no sign-in cookie")
		refused(t, c.callback(t, cb, "Cookie", "airlock_login="+at.binding), "no sign-in cookie")
		refused(t, c.callback(t, cb, "Cookie", loginCookieName+"="+at.binding+"; "+loginCookieName+"="+at.binding), "2 __Host-airlock_login cookies")
		c.unchanged(t, before)
	})

	t.Run("code of attempt A with the state of attempt B (PKCE)", func(t *testing.T) {
		a := c.startLogin(t, "/")
		b := c.startLogin(t, "/")
		cbA, _ := url.Parse(c.approve(t, a.authorize, "alice"))
		cbB, _ := url.Parse(c.approve(t, b.authorize, "alice"))
		mixed := *cbB
		q := cbB.Query()
		q.Set("code", cbA.Query().Get("code"))
		mixed.RawQuery = q.Encode()
		before := c.allSessions(t)
		refused(t, c.callback(t, mixed.String(), b.loginCookie()...), "refused the sign-in at its token endpoint")
		c.unchanged(t, before)
	})

	t.Run("the same callback ten times at once", func(t *testing.T) {
		at := c.startLogin(t, "/")
		cb := c.approve(t, at.authorize, "bob")
		before := c.allSessions(t)
		codes := make(chan int, 10)
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				codes <- c.callback(t, cb, at.loginCookie()...).code
			}()
		}
		wg.Wait()
		close(codes)
		got := map[int]int{}
		for code := range codes {
			got[code]++
		}
		if got[200] != 1 || got[400] != 9 {
			t.Errorf("answers %v, want one 200 and nine 400", got)
		}
		if n := len(c.allSessions(t)) - len(before); n != 1 {
			t.Errorf("%d sessions created, want 1", n)
		}
	})

	t.Run("issuer mix-up and provider errors", func(t *testing.T) {
		for _, tc := range []struct{ name, edit, want string }{
			{"iss of another issuer", "iss=https://evil.example", "names issuer"},
			{"iss given twice", "iss=x", "given 2 times"},
			{"state given twice", "state=x", "given 2 times"},
			{"access_denied", "error=access_denied", "refused the sign-in"},
			{"no code", "code=", "no code"},
			{"no iss although the provider always sends it", "iss=", "has no iss"},
			{"error with HTML in its description", "error_description=<img src=x onerror=alert(1)>", "&lt;img src=x onerror=alert(1)&gt;"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				at := c.startLogin(t, "/")
				cb, _ := url.Parse(c.approve(t, at.authorize, "alice"))
				q := cb.Query()
				k, v, _ := strings.Cut(tc.edit, "=")
				switch tc.name {
				case "iss given twice", "state given twice":
					cb.RawQuery += "&" + tc.edit
				case "no iss although the provider always sends it":
					q.Del("iss")
					cb.RawQuery = q.Encode()
				case "access_denied", "error with HTML in its description":
					q.Del("code")
					q.Set("error", "access_denied")
					q.Set(k, v)
					cb.RawQuery = q.Encode()
				default:
					q.Set(k, v)
					cb.RawQuery = q.Encode()
				}
				before := c.allSessions(t)
				refused(t, c.callback(t, cb.String(), at.loginCookie()...), tc.want)
				c.unchanged(t, before)
			})
		}
	})

	t.Run("bad states", func(t *testing.T) {
		at := c.startLogin(t, "/")
		before := c.allSessions(t)
		for _, st := range []string{"", "x", strings.Repeat("A", 43), at.binding, at.state + "A", strings.Repeat("%00", 43)} {
			a := c.callback(t, "/auth/callback?code=x&state="+st, at.loginCookie()...)
			if a.code != 400 || cookieValue(a, sessionCookieName) != "" {
				t.Errorf("state %q: %s, want 400", st, a)
			}
		}
		c.unchanged(t, before)
	})

	t.Run("HEAD and POST on the sign-in routes", func(t *testing.T) {
		before := c.allSessions(t)
		for _, path := range []string{"/auth/login?provider=dev", "/auth/callback?state=x&code=y"} {
			a := c.send(t, "HEAD", path, nil)
			if a.code != 405 || len(a.h.Values("Set-Cookie")) != 0 || a.h.Get("Location") != "" {
				t.Errorf("HEAD %s: %s, Set-Cookie %q, want 405 and nothing started", path, a, a.h.Values("Set-Cookie"))
			}
			if got := a.h.Values("Allow"); len(got) != 1 || got[0] != "GET" {
				t.Errorf("HEAD %s: Allow %q, want exactly GET", path, got)
			}
			checkSecurityHeaders(t, "HEAD 405", a)
			a = c.send(t, "POST", path, nil, "Sec-Fetch-Site", "same-origin")
			if a.code != 405 || len(a.h.Values("Set-Cookie")) != 0 {
				t.Errorf("POST %s: %s, want 405", path, a)
			}
			if got := a.h.Values("Allow"); len(got) != 1 || got[0] != "GET" {
				t.Errorf("POST %s: Allow %q, want exactly GET", path, got)
			}
		}
		c.unchanged(t, before)
	})
}

// TestSSOReturnTo: where the browser goes after signing in may only be a
// path on our own origin, and whatever is accepted stays on it.
func TestSSOReturnTo(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)
	for _, rt := range []string{
		"https://evil.example", "//evil.example", "/\\evil.example", "%2F%2Fevil.example", "javascript:alert(1)",
		"/x\r\nSet-Cookie: a=b", "/x\nLocation: https://evil.example", "/\t/evil.example", "/ /evil.example", "/x\x00",
		`/"><script>alert(1)</script>`, "/'onload='x", "/`x`", "/é", "\\\\evil.example", "http:/evil.example",
		"/" + strings.Repeat("a", 10<<10), "/" + strings.Repeat("a", 2048),
	} {
		name := rt
		if len(name) > 40 {
			name = name[:40] + "…"
		}
		t.Run(fmt.Sprintf("refused %q", name), func(t *testing.T) {
			a := c.send(t, "GET", "/auth/login?provider=dev&return_to="+url.QueryEscape(rt), nil)
			if a.code != 400 || a.h.Get("Location") != "" || len(a.h.Values("Set-Cookie")) != 0 {
				t.Fatalf("got %s, Location %q, Set-Cookie %q; want 400, no redirect, no login started", a, a.h.Get("Location"), a.h.Values("Set-Cookie"))
			}
			if !strings.Contains(a.h.Get("Content-Type"), "text/html") || strings.Contains(a.body, "<script>") || strings.Contains(a.body, "evil.example\"") {
				t.Errorf("the error page: %s", a)
			}
			for k := range a.h {
				if strings.EqualFold(k, "a") || strings.EqualFold(k, "location") {
					t.Errorf("header injected: %s", k)
				}
			}
			checkSecurityHeaders(t, "return_to refusal", a)
		})
	}
	t.Run("the Host header does not move the redirect_uri", func(t *testing.T) {
		a := c.send(t, "GET", "/auth/login?provider=dev", nil, "Host", "attacker.example", "X-Forwarded-Host", "attacker.example", "X-Forwarded-Proto", "https")
		if a.code != 302 || !strings.Contains(a.h.Get("Location"), "redirect_uri="+url.QueryEscape(s.cp.URL+"/auth/callback")+"&") {
			t.Errorf("got %s, Location %q", a, a.h.Get("Location"))
		}
	})
	t.Run("return_to given twice", func(t *testing.T) {
		if a := c.send(t, "GET", "/auth/login?provider=dev&return_to=/a&return_to=//evil.example", nil); a.code != 400 || a.h.Get("Location") != "" {
			t.Errorf("got %s, want 400", a)
		}
	})
	t.Run("the provider parameter is escaped in the error page", func(t *testing.T) {
		a := c.send(t, "GET", "/auth/login?provider="+url.QueryEscape("<script>alert(1)</script>"), nil)
		if a.code != 400 || strings.Contains(a.body, "<script>") || !strings.Contains(a.body, "&lt;script&gt;") {
			t.Errorf("got %s", a)
		}
	})
	t.Run("provider unknown, missing or twice", func(t *testing.T) {
		for _, q := range []string{"provider=nope", "", "provider=dev&provider=dev", "provider=DEV"} {
			if a := c.send(t, "GET", "/auth/login?"+q, nil); a.code != 400 || a.h.Get("Location") != "" || len(a.h.Values("Set-Cookie")) != 0 {
				t.Errorf("%q: got %s, want 400", q, a)
			}
		}
	})

	// Paths that are accepted: the page continues to them on our origin,
	// and whatever the static assets make of them stays on it.
	for _, rt := range []string{"/%2F%2Fevil.example", "/%5Cevil", "/%5C%5Cevil.example/", "/;url=https://evil.example", "/a,url=//evil.example", "/%09/evil.example"} {
		t.Run(fmt.Sprintf("accepted %q stays on this origin", rt), func(t *testing.T) {
			at := c.startLogin(t, rt)
			a := c.callback(t, c.approve(t, at.authorize, "bob"), at.loginCookie()...)
			if a.code != 200 {
				t.Fatalf("callback: %s", a)
			}
			if !strings.Contains(a.body, `content="0;url=`+rt+`"`) {
				t.Errorf("the page does not continue to %q: %s", rt, a.body)
			}
			next := rt
			for hop := 0; hop < 5; hop++ {
				r := c.send(t, "GET", next, nil, cookie(cookieValue(a, sessionCookieName))...)
				loc := r.h.Get("Location")
				if loc == "" {
					break
				}
				base, _ := url.Parse(s.cp.URL + next)
				to, err := base.Parse(loc)
				if err != nil || to.Host != base.Host || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.HasPrefix(loc, "/\\") {
					t.Fatalf("GET %s redirects off our origin: Location %q", next, loc)
				}
				next = to.RequestURI()
			}
		})
	}
}

// TestSSOCredentials: where a session token is accepted, and where not.
func TestSSOCredentials(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)
	browser := c.signIn(t, "alice")
	cli := s.token
	id, secret, _ := strings.Cut(browser, ".")
	flip := func(s string) string {
		b := []byte(s)
		if b[0] == 'A' {
			b[0] = 'B'
		} else {
			b[0] = 'A'
		}
		return string(b)
	}
	if who, a := c.meAs(t, cookie(browser)...); who != userID("alice") {
		t.Fatalf("positive control, the cookie: %s", a)
	}
	if who, a := c.meAs(t, bearer(cli)...); who != userID("alice") {
		t.Fatalf("positive control, the CLI token: %s", a)
	}
	before := c.allSessions(t)
	for _, tc := range []struct {
		name, target string
		hdr          []string
	}{
		{"cookie token in the query", "/v1/me?" + sessionCookieName + "=" + url.QueryEscape(browser), nil},
		{"token= in the query", "/v1/me?token=" + url.QueryEscape(cli), nil},
		{"access_token= in the query", "/v1/me?access_token=" + url.QueryEscape(cli), nil},
		{"authorization= in the query", "/v1/me?authorization=" + url.QueryEscape("Bearer "+cli), nil},
		{"browser token as Bearer", "/v1/me", bearer(browser)},
		{"CLI token as the cookie", "/v1/me", cookie(cli)},
		{"tampered secret, valid id", "/v1/me", cookie(id + "." + flip(secret))},
		{"tampered id, valid secret", "/v1/me", cookie(flip(id) + "." + secret)},
		{"secret of the CLI session with the browser id", "/v1/me", cookie(id + "." + strings.SplitN(cli, ".", 2)[1])},
		{"id only", "/v1/me", cookie(id)},
		{"token with padding", "/v1/me", cookie(browser + "=")},
		{"cookie without the __Host- prefix", "/v1/me", []string{"Cookie", "airlock_session=" + browser}},
		{"cookie name in another case", "/v1/me", []string{"Cookie", "__host-airlock_session=" + browser}},
		{"__Secure- prefix", "/v1/me", []string{"Cookie", "__Secure-airlock_session=" + browser}},
		{"quoted cookie value", "/v1/me", []string{"Cookie", sessionCookieName + `="` + browser + `"`}},
		{"two session cookies (cookie tossing)", "/v1/me", []string{"Cookie", sessionCookieName + "=" + browser + "; " + sessionCookieName + "=" + browser}},
		{"two Cookie headers", "/v1/me", []string{"Cookie", sessionCookieName + "=" + browser, "Cookie", sessionCookieName + "=" + browser}},
		{"cookie and Authorization both", "/v1/me", hdrs(cookie(browser), bearer(cli))},
		{"Basic scheme", "/v1/me", []string{"Authorization", "Basic " + cli}},
		{"token scheme", "/v1/me", []string{"Authorization", "Token " + cli}},
		{"Bearer without token", "/v1/me", []string{"Authorization", "Bearer "}},
		{"two Authorization headers", "/v1/me", []string{"Authorization", "Bearer " + cli, "Authorization", "Bearer " + cli}},
		{"no credentials, forwarded route", "/v1/runs", nil},
		{"no credentials, agent listing", "/v1/agents", nil},
		{"no credentials, agent listing with a slash", "/v1/agents/", nil},
		{"CLI token in the query on a forwarded route", "/v1/runs?token=" + url.QueryEscape(cli), nil},
		{"encoded slash in an agent route", "/v1/agents%2Fchallenge", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := c.send(t, "GET", tc.target, nil, tc.hdr...)
			if a.code != 401 {
				t.Fatalf("got %s, want 401", a)
			}
			var body struct {
				Signin string `json:"signin"`
			}
			if json.Unmarshal([]byte(a.body), &body) != nil || body.Signin != "/signin/" {
				t.Errorf("401 without signin: %s", a)
			}
			checkSecurityHeaders(t, "401", a)
		})
	}
	c.unchanged(t, before)
	t.Run("the real credentials still work after all that", func(t *testing.T) {
		if who, a := c.meAs(t, cookie(browser)...); who == "" {
			t.Errorf("cookie: %s", a)
		}
		if who, a := c.meAs(t, bearer(cli)...); who == "" {
			t.Errorf("CLI: %s", a)
		}
		if who, a := c.meAs(t, "Authorization", "bearer  "+cli); who == "" {
			t.Errorf("lower-case scheme: %s", a)
		}
	})
	t.Run("public routes need nothing", func(t *testing.T) {
		for _, tc := range []struct {
			method, path string
			want         int
		}{{"GET", "/v1/healthz", 200}, {"GET", "/v1/ping", 200}, {"GET", "/auth/providers", 200}} {
			if a := c.send(t, tc.method, tc.path, nil); a.code != tc.want {
				t.Errorf("%s %s: %s, want %d", tc.method, tc.path, a, tc.want)
			}
		}
	})
}

// TestSSOCSRF: unsafe requests with the session cookie only from our own
// origin, as JSON.
func TestSSOCSRF(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)
	browser := c.signIn(t, "alice")
	origin := s.cp.URL
	u, _ := url.Parse(origin)

	t.Run("positive control: same-origin JSON with the cookie submits a run", func(t *testing.T) {
		for _, h := range [][]string{
			{"Sec-Fetch-Site", "same-origin"},
			{"Origin", origin}, // a browser without Fetch Metadata
		} {
			a := c.send(t, "POST", "/v1/runs", submitBody(), hdrs(cookie(browser), h, []string{"Content-Type", "application/json"})...)
			if a.code != 201 {
				t.Errorf("with %v: %s, want 201", h, a)
			}
			c.cancelRun(t, a)
		}
	})

	type unsafeReq struct {
		method, path string
		body         []byte
	}
	reqs := []unsafeReq{
		{"POST", "/v1/runs", submitBody()},
		{"DELETE", "/v1/sessions/" + sessionIDOf(browser), nil},
		{"POST", "/auth/logout", nil},
		{"POST", "/auth/logout", []byte("{}")},
	}
	attacks := []struct {
		name string
		hdr  []string
		want int
	}{
		{"Sec-Fetch-Site cross-site", []string{"Sec-Fetch-Site", "cross-site", "Content-Type", "application/json", "Origin", "https://evil.example"}, 403},
		{"Sec-Fetch-Site same-site", []string{"Sec-Fetch-Site", "same-site", "Content-Type", "application/json", "Origin", "http://localhost:" + u.Port()}, 403},
		{"Sec-Fetch-Site none", []string{"Sec-Fetch-Site", "none", "Content-Type", "application/json"}, 403},
		{"Sec-Fetch-Site twice", []string{"Sec-Fetch-Site", "same-origin", "Sec-Fetch-Site", "cross-site", "Content-Type", "application/json"}, 403},
		{"look-alike Origin", []string{"Origin", origin + ".attacker.example", "Content-Type", "application/json"}, 403},
		{"Origin with a path", []string{"Origin", origin + "/", "Content-Type", "application/json"}, 403},
		{"Origin of localhost (another site)", []string{"Origin", "http://localhost:" + u.Port(), "Content-Type", "application/json"}, 403},
		// Not tested here: Origin https://127.0.0.1:PORT. wrangler dev's
		// proxy (ProxyWorker's rewriteUrlRelatedHeaders) rewrites every URL
		// in a request header whose host is its own to the inner http URL,
		// so Go sees exactly public_url's origin; production has no such
		// proxy.
		{"Origin null", []string{"Origin", "null", "Content-Type", "application/json"}, 403},
		{"neither Origin nor Sec-Fetch-Site", []string{"Content-Type", "application/json"}, 403},
		{"Referer of ours is not enough", []string{"Referer", origin + "/", "Content-Type", "application/json"}, 403},
		{"Origin matching a forged Host", []string{"Host", "attacker.example", "Origin", "http://attacker.example", "Content-Type", "application/json"}, 403},
	}
	for _, r := range reqs {
		for _, atk := range attacks {
			t.Run(fmt.Sprintf("%s %s body=%t: %s", r.method, r.path, r.body != nil, atk.name), func(t *testing.T) {
				before, runs := c.allSessions(t), c.latestRun(t)
				a := c.send(t, r.method, r.path, r.body, hdrs(cookie(browser), atk.hdr)...)
				if a.code != atk.want {
					t.Errorf("got %s, want %d", a, atk.want)
				}
				if len(a.h.Values("Clear-Site-Data")) != 0 || len(a.h.Values("Set-Cookie")) != 0 {
					t.Errorf("a refused request touches cookies: %v %v", a.h.Values("Clear-Site-Data"), a.h.Values("Set-Cookie"))
				}
				checkSecurityHeaders(t, "CSRF refusal", a)
				c.unchanged(t, before)
				if n := c.latestRun(t); n != runs {
					t.Errorf("a run was submitted: %d → %d", runs, n)
				}
			})
		}
	}
	// Simple requests (no preflight) a cross-site form or fetch can send.
	for _, r := range []unsafeReq{{"POST", "/v1/runs", submitBody()}, {"POST", "/auth/logout", []byte("x=1")}, {"DELETE", "/v1/sessions/" + sessionIDOf(browser), []byte("{}")}} {
		for _, ct := range []string{"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "", "application/json-seq", "application/jsonx", "text/plain; charset=application/json"} {
			for _, who := range [][]string{cookie(browser), bearer(s.token)} {
				kind := "cookie"
				if who[0] == "Authorization" {
					kind = "bearer"
				}
				t.Run(fmt.Sprintf("%s %s as %q with %s", r.method, r.path, ct, kind), func(t *testing.T) {
					before, runs := c.allSessions(t), c.latestRun(t)
					h := hdrs(who, []string{"Sec-Fetch-Site", "same-origin"})
					if ct != "" {
						h = append(h, "Content-Type", ct)
					}
					a := c.send(t, r.method, r.path, r.body, h...)
					if a.code != 415 {
						t.Errorf("got %s, want 415", a)
					}
					c.unchanged(t, before)
					if n := c.latestRun(t); n != runs {
						t.Errorf("a run was submitted: %d → %d", runs, n)
					}
				})
			}
		}
	}
	t.Run("bearer requests marked cross-site by the browser are refused too", func(t *testing.T) {
		runs := c.latestRun(t)
		a := c.send(t, "POST", "/v1/runs", submitBody(), hdrs(bearer(s.token), []string{"Sec-Fetch-Site", "cross-site", "Content-Type", "application/json"})...)
		if a.code != 403 {
			t.Errorf("got %s, want 403", a)
		}
		if n := c.latestRun(t); n != runs {
			t.Errorf("a run was submitted")
		}
	})
	t.Run("a CORS preflight grants nothing", func(t *testing.T) {
		a := c.send(t, "OPTIONS", "/v1/runs", nil, "Origin", "https://evil.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "content-type", "Sec-Fetch-Site", "cross-site")
		if a.code < 400 || a.h.Get("Access-Control-Allow-Origin") != "" || a.h.Get("Access-Control-Allow-Methods") != "" || a.h.Get("Access-Control-Allow-Credentials") != "" {
			t.Errorf("preflight: %s %v", a, a.h)
		}
	})
	t.Run("the cookie session survived every attack", func(t *testing.T) {
		if who, a := c.meAs(t, cookie(browser)...); who == "" {
			t.Errorf("%s", a)
		}
	})
}

// TestSSOPrincipalHeader: the header that carries the checked person from
// Sessions to Scheduler is refused from outside by the Worker, before any
// Go code, on every route the Worker runs for.
func TestSSOPrincipalHeader(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)
	bob := c.cliSession(t, "bob")
	forged := `{"user":"` + userID("alice") + `","email":"alice@example.com","role":"admin","session":"x","kind":"cli"}`
	const workerRefusal = `{"error":"the airlock-principal header is internal; do not send it"}`
	before, runs := c.allSessions(t), c.latestRun(t)
	for _, tc := range []struct {
		method, path string
		body         []byte
		cred         []string
	}{
		{"GET", "/v1/me", nil, nil},
		{"GET", "/v1/users", nil, bearer(bob)},
		{"GET", "/v1/sessions?all=1", nil, bearer(bob)},
		{"DELETE", "/v1/users/" + url.PathEscape(userID("alice")) + "/sessions", nil, bearer(bob)},
		{"GET", "/v1/runs", nil, nil},
		{"POST", "/v1/runs", submitBody(), nil},
		{"POST", "/v1/runs", submitBody(), bearer(bob)},
		{"GET", "/v1/agents", nil, nil},
		{"GET", "/v1/healthz", nil, nil},
		{"POST", "/v1/agents/challenge", nil, nil},
		{"GET", "/v1/agents/connect", nil, nil},
		{"GET", "/v1/nope", nil, nil},
		{"GET", "/auth/providers", nil, nil},
		{"GET", "/auth/login?provider=dev", nil, nil},
		{"GET", "/auth/callback?state=x&code=y", nil, nil},
		{"POST", "/auth/logout", nil, bearer(bob)},
		{"POST", "/auth/device", []byte(`{"provider":"dev"}`), nil},
		{"POST", "/auth/device/token", []byte(`{"device_request":"x"}`), nil},
	} {
		for _, name := range []string{"airlock-principal", "Airlock-Principal", "AIRLOCK-PRINCIPAL"} {
			for _, value := range []string{forged, ""} {
				t.Run(fmt.Sprintf("%s %s %s=%.10q", tc.method, tc.path, name, value), func(t *testing.T) {
					h := append([]string{"Content-Type", "application/json", "Sec-Fetch-Site", "same-origin"}, tc.cred...)
					req, _ := http.NewRequest(tc.method, s.cp.URL+tc.path, bytes.NewReader(tc.body))
					for i := 0; i+1 < len(h); i += 2 {
						req.Header.Set(h[i], h[i+1])
					}
					req.Header[name] = []string{value} // exactly this spelling on the wire
					resp, err := c.cp.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					data, _ := io.ReadAll(resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 400 || strings.TrimSpace(string(data)) != workerRefusal {
						t.Errorf("got %d %s, want the Worker's 400", resp.StatusCode, data)
					}
					if len(resp.Header.Values("Set-Cookie")) != 0 || resp.Header.Get("Location") != "" {
						t.Errorf("reached the sign-in code: %v", resp.Header)
					}
				})
			}
		}
	}
	t.Run("on a WebSocket upgrade", func(t *testing.T) {
		for _, path := range []string{"/v1/agents/connect", "/v1/runs", "/v1/agents/connect/"} {
			h := s.proofHeader(t)
			h.Set("Airlock-Principal", forged)
			conn, resp, err := websocket.DefaultDialer.Dial(strings.Replace(s.cp.URL, "http", "ws", 1)+path, h)
			if err == nil {
				conn.Close()
				t.Fatalf("%s: upgraded with a forged principal", path)
			}
			if resp == nil || resp.StatusCode != 400 {
				t.Errorf("%s: %v %v, want 400", path, resp, err)
			}
		}
	})
	t.Run("nothing changed", func(t *testing.T) {
		c.unchanged(t, before)
		if n := c.latestRun(t); n != runs {
			t.Errorf("a run was submitted: %d → %d", runs, n)
		}
	})
	t.Run("static assets never run the Worker", func(t *testing.T) {
		for _, path := range []string{"/", "/signin/", "/no-such-page"} {
			a := c.send(t, "GET", path, nil, "airlock-principal", forged)
			if !strings.Contains(a.h.Get("Content-Type"), "text/html") || strings.Contains(a.body, "airlock-principal") {
				t.Errorf("%s: %s", path, a)
			}
		}
	})
}

// TestSSOAgentRoutes: agents' routes do not depend on a person's
// credentials; the agent listing does.
func TestSSOAgentRoutes(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)
	for _, cred := range [][]string{nil, bearer("garbage"), bearer(s.token), cookie("garbage"), {"Authorization", "Basic YTpi"}} {
		t.Run(fmt.Sprintf("credentials %.30q", strings.Join(cred, ": ")), func(t *testing.T) {
			if a := c.send(t, "GET", "/v1/healthz", nil, cred...); a.code != 200 {
				t.Errorf("healthz: %s", a)
			} else {
				checkSecurityHeaders(t, "healthz", a)
			}
			if a := c.send(t, "POST", "/v1/agents/challenge", nil, cred...); a.code != 201 || !strings.Contains(a.body, `"challenge"`) {
				t.Errorf("challenge: %s", a)
			}
			if a := c.send(t, "GET", "/v1/agents/connect", nil, cred...); a.code != 426 && a.code != 401 {
				t.Errorf("connect without an upgrade: %s, want 426 or 401", a)
			}
			h := s.proofHeader(t)
			for i := 0; i+1 < len(cred); i += 2 {
				h.Set(cred[i], cred[i+1])
			}
			conn, resp, err := websocket.DefaultDialer.Dial(strings.Replace(s.cp.URL, "http", "ws", 1)+"/v1/agents/connect", h)
			if err != nil {
				t.Errorf("an agent with a proof and %v: %v %v", cred, resp, err)
			} else {
				conn.Close()
			}
		})
	}
	t.Run("listing agents needs a session", func(t *testing.T) {
		if a := c.send(t, "GET", "/v1/agents", nil); a.code != 401 {
			t.Errorf("without: %s", a)
		}
		if a := c.send(t, "GET", "/v1/agents", nil, bearer(s.token)...); a.code != 200 {
			t.Errorf("with: %s", a)
		}
	})
}

// TestSSOSecurityHeaders: every kind of answer carries its headers.
func TestSSOSecurityHeaders(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)
	for _, tc := range []struct {
		name, method, path string
		hdr                []string
		want               int
	}{
		{"API 200 (Sessions)", "GET", "/v1/me", bearer(s.token), 200},
		{"API 200 (Scheduler)", "GET", "/v1/runs", bearer(s.token), 200},
		{"API 200 providers", "GET", "/auth/providers", nil, 200},
		{"API 401", "GET", "/v1/me", nil, 401},
		{"API 403", "GET", "/v1/users", bearer(c.cliSession(t, "bob")), 403},
		{"API 404 (Scheduler)", "GET", "/v1/runs/nope", bearer(s.token), 404},
		{"API 404 (Sessions)", "GET", "/auth/nope", nil, 404},
		{"API 405 (Sessions)", "POST", "/v1/me", hdrs(bearer(s.token), []string{"Sec-Fetch-Site", "same-origin"}), 405},
		{"API 405 (Scheduler)", "GET", "/v1/runs/x/cancel", bearer(s.token), 405},
		{"API 415", "POST", "/auth/device", []string{"Content-Type", "text/plain"}, 415},
		{"login redirect", "GET", "/auth/login?provider=dev", nil, 302},
		{"login 400 page", "GET", "/auth/login?provider=nope", nil, 400},
		{"callback 400 page", "GET", "/auth/callback", nil, 400},
		{"the Worker's /v1/ping", "GET", "/v1/ping", nil, 0},
		{"the Worker's principal-header refusal", "GET", "/v1/me", []string{"airlock-principal", "{}"}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var body []byte
			if tc.want == 415 {
				body = []byte("x")
			}
			a := c.send(t, tc.method, tc.path, body, tc.hdr...)
			if tc.want != 0 && a.code != tc.want { // 0: the Worker's own answers, whatever their status
				t.Fatalf("got %s, want %d", a, tc.want)
			}
			checkSecurityHeaders(t, tc.name, a)
			if tc.want == 405 && a.h.Get("Allow") == "" {
				t.Errorf("405 without Allow")
			}
		})
	}
	// The dashboard's static pages: site/out/_headers via wrangler's assets
	// (a CSP of its own that lets the dashboard's scripts run).
	for _, path := range []string{"/", "/signin/", "/sessions/", "/no-such-page", "/favicon.svg"} {
		t.Run("static "+path, func(t *testing.T) {
			a := c.send(t, "GET", path, nil)
			if a.code != 200 && !(path == "/no-such-page" && a.code == 404) {
				t.Fatalf("got %s", a)
			}
			csp := a.h.Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'self'", "script-src 'self'", "object-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %s", csp, d)
				}
			}
			if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "*") {
				t.Errorf("CSP %q allows inline, eval or any host", csp)
			}
			for k, v := range map[string]string{"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
				"Strict-Transport-Security": "max-age=63072000; includeSubDomains", "Cross-Origin-Opener-Policy": "same-origin"} {
				if got := a.h.Get(k); got != v {
					t.Errorf("%s: %q, want %q", k, got, v)
				}
			}
			if a.h.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("static asset grants CORS")
			}
		})
	}
}

// TestSSOLogout: signing out ends the session at once and clears the
// browser.
func TestSSOLogout(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)
	browser := c.signIn(t, "bob")
	other := c.signIn(t, "bob")
	before := c.allSessions(t)
	a := c.send(t, "POST", "/auth/logout", nil, hdrs(cookie(browser), sameOrigin())...)
	if a.code != 204 || a.body != "" {
		t.Fatalf("logout: %s, want 204 without a body", a)
	}
	checkSecurityHeaders(t, "logout", a)
	if got := a.h.Get("Clear-Site-Data"); got != `"cookies", "storage"` {
		t.Errorf("Clear-Site-Data %q", got)
	}
	if l := setCookies(a)[sessionCookieName]; !strings.HasPrefix(l, sessionCookieName+"=;") || !strings.Contains(l, "Max-Age=0") || !strings.Contains(l, "Path=/") || !strings.Contains(l, "Secure") {
		t.Errorf("the cookie is not expired: %q", l)
	}
	after := c.allSessions(t)
	if _, ok := after[sessionIDOf(browser)]; ok || len(after) != len(before)-1 {
		t.Errorf("sessions: %d before, %d after; the signed-out one still listed: %t", len(before), len(after), ok)
	}
	if who, r := c.meAs(t, cookie(browser)...); who != "" || r.code != 401 {
		t.Errorf("the signed-out cookie: %s, want 401", r)
	}
	if who, r := c.meAs(t, cookie(other)...); who == "" {
		t.Errorf("the same user's other session ended too: %s", r)
	}
	t.Run("twice", func(t *testing.T) {
		before := c.allSessions(t)
		a := c.send(t, "POST", "/auth/logout", nil, hdrs(cookie(browser), sameOrigin())...)
		if a.code != 204 || a.h.Get("Clear-Site-Data") == "" {
			t.Errorf("second logout: %s", a)
		}
		c.unchanged(t, before)
	})
	t.Run("without any session", func(t *testing.T) {
		before := c.allSessions(t)
		if a := c.send(t, "POST", "/auth/logout", nil, sameOrigin()...); a.code != 204 {
			t.Errorf("got %s", a)
		}
		c.unchanged(t, before)
	})
	t.Run("a cross-origin logout without the cookie does not clear the browser", func(t *testing.T) {
		// A browser without Fetch Metadata does not send the Strict cookie
		// on a cross-site form POST; the answer must still be a refusal,
		// not Clear-Site-Data wiping the victim's cookies and storage.
		before := c.allSessions(t)
		for _, h := range [][]string{
			{"Origin", "https://evil.example"},
			{"Origin", "null"},
			{"Origin", c.s.cp.URL + ".evil.example"},
			{"Sec-Fetch-Site", "cross-site", "Origin", "https://evil.example"},
			{"Content-Type", "text/plain"},
			nil,
		} {
			a := c.send(t, "POST", "/auth/logout", nil, h...)
			if a.code != 403 || a.h.Get("Clear-Site-Data") != "" || len(a.h.Values("Set-Cookie")) != 0 {
				t.Errorf("%q: got %d, Clear-Site-Data %q, Set-Cookie %q; want 403 and nothing cleared", h, a.code, a.h.Get("Clear-Site-Data"), a.h.Values("Set-Cookie"))
			}
			checkSecurityHeaders(t, "refused logout", a)
		}
		c.unchanged(t, before)
		if who, r := c.meAs(t, cookie(other)...); who == "" {
			t.Errorf("a refused logout ended the session: %s", r)
		}
	})
	t.Run("GET does not sign out", func(t *testing.T) {
		before := c.allSessions(t)
		if a := c.send(t, "GET", "/auth/logout", nil, cookie(other)...); a.code != 405 {
			t.Errorf("got %s, want 405", a)
		}
		c.unchanged(t, before)
	})
	t.Run("the CLI signs out with its bearer token", func(t *testing.T) {
		tok := c.cliSession(t, "bob")
		if a := c.send(t, "POST", "/auth/logout", []byte("{}"), hdrs(bearer(tok), []string{"Content-Type", "application/json"})...); a.code != 204 {
			t.Fatalf("got %s", a)
		}
		if who, r := c.meAs(t, bearer(tok)...); who != "" {
			t.Errorf("the CLI token after logout: %s", r)
		}
	})
}

// TestSSOMemberVersusAdmin: a member's session cannot use the admin routes
// or end other people's sessions.
func TestSSOMemberVersusAdmin(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)
	bobCLI := c.cliSession(t, "bob")
	bobBrowser := c.signIn(t, "bob")
	aliceBrowser := c.signIn(t, "alice")
	if who, a := c.meAs(t, bearer(bobCLI)...); who != userID("bob") || !strings.Contains(a.body, `"role":"member"`) {
		t.Fatalf("bob: %s", a)
	}
	alice := url.PathEscape(userID("alice"))
	for _, cred := range []struct {
		name string
		hdr  []string
	}{{"CLI", bearer(bobCLI)}, {"browser", hdrs(cookie(bobBrowser), []string{"Sec-Fetch-Site", "same-origin"})}} {
		for _, tc := range []struct {
			method, path string
			want         int
		}{
			{"GET", "/v1/users", 403},
			{"GET", "/v1/sessions?all=1", 403},
			{"GET", "/v1/sessions?all=true", 403},
			{"GET", "/v1/sessions?user=" + url.QueryEscape(userID("alice")), 403},
			{"GET", "/v1/sessions?user=" + url.QueryEscape(userID("bob")), 403},
			{"DELETE", "/v1/users/" + alice + "/sessions", 403},
			{"DELETE", "/v1/users/" + url.PathEscape(userID("bob")) + "/sessions", 403},
			{"DELETE", "/v1/sessions/" + sessionIDOf(aliceBrowser), 404},
			{"DELETE", "/v1/sessions/" + sessionIDOf(s.token), 404},
			{"DELETE", "/v1/sessions/" + url.PathEscape(sessionIDOf(aliceBrowser)+"/"), 404},
			{"DELETE", "/v1/sessions/" + strings.ToLower(sessionIDOf(aliceBrowser)), 404},
		} {
			t.Run(fmt.Sprintf("%s %s %s", cred.name, tc.method, tc.path), func(t *testing.T) {
				before := c.allSessions(t)
				a := c.send(t, tc.method, tc.path, nil, cred.hdr...)
				if a.code != tc.want {
					t.Errorf("got %s, want %d", a, tc.want)
				}
				if tc.want == 404 && strings.Contains(a.body, "alice") {
					t.Errorf("the refusal names the owner: %s", a)
				}
				c.unchanged(t, before)
			})
		}
	}
	t.Run("a member's own listing shows only theirs, without owners", func(t *testing.T) {
		a := c.send(t, "GET", "/v1/sessions", nil, bearer(bobCLI)...)
		if a.code != 200 || strings.Contains(a.body, sessionIDOf(aliceBrowser)) || strings.Contains(a.body, "alice") || strings.Contains(a.body, `"user"`) {
			t.Errorf("got %s", a)
		}
	})
	t.Run("a missing session and another user's are indistinguishable", func(t *testing.T) {
		x := c.send(t, "DELETE", "/v1/sessions/"+sessionIDOf(aliceBrowser), nil, bearer(bobCLI)...)
		y := c.send(t, "DELETE", "/v1/sessions/AAAAAAAAAAAAAAAA", nil, bearer(bobCLI)...)
		strip := func(b string) string {
			var m map[string]any
			_ = json.Unmarshal([]byte(b), &m)
			delete(m, "id")
			out, _ := json.Marshal(m)
			return strings.ReplaceAll(strings.ReplaceAll(string(out), sessionIDOf(aliceBrowser), "ID"), "AAAAAAAAAAAAAAAA", "ID")
		}
		if x.code != y.code || strip(x.body) != strip(y.body) {
			t.Errorf("another's: %s; missing: %s", x, y)
		}
	})
	t.Run("alice's sessions still work", func(t *testing.T) {
		if who, a := c.meAs(t, cookie(aliceBrowser)...); who != userID("alice") {
			t.Errorf("browser: %s", a)
		}
		if who, a := c.meAs(t, bearer(s.token)...); who != userID("alice") {
			t.Errorf("CLI: %s", a)
		}
	})
	t.Run("bob ends his own session by id", func(t *testing.T) {
		a := c.send(t, "DELETE", "/v1/sessions/"+sessionIDOf(bobBrowser), nil, bearer(bobCLI)...)
		if a.code != 204 {
			t.Fatalf("got %s", a)
		}
		if who, _ := c.meAs(t, cookie(bobBrowser)...); who != "" {
			t.Errorf("the ended session still works")
		}
	})
	t.Run("an admin ends a member's session", func(t *testing.T) {
		tok := c.cliSession(t, "bob")
		if a := c.send(t, "DELETE", "/v1/sessions/"+sessionIDOf(tok), nil, hdrs(cookie(aliceBrowser), sameOrigin())...); a.code != 204 {
			t.Fatalf("got %s", a)
		}
		if who, _ := c.meAs(t, bearer(tok)...); who != "" {
			t.Errorf("the ended session still works")
		}
	})
}

// TestSSODeviceFlow: the CLI's device sign-in against handles it does not
// hold, reuse, and refusal at the provider.
func TestSSODeviceFlow(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)
	poll := func(t *testing.T, handle string) answer {
		b, _ := json.Marshal(map[string]string{"device_request": handle})
		return c.send(t, "POST", "/auth/device/token", b, "Content-Type", "application/json")
	}
	start := func(t *testing.T) *cliauth.Device {
		d, err := cliauth.Start(context.Background(), &http.Client{Timeout: 30 * time.Second}, s.cp.URL, devstack.DevProvider)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	errCode := func(a answer) string {
		var v struct {
			Error string `json:"error"`
		}
		_ = json.Unmarshal([]byte(a.body), &v)
		return v.Error
	}
	// waitToken polls (as the CLI does) until the answer is not pending.
	waitToken := func(t *testing.T, handle string) answer {
		for i := 0; i < 100; i++ {
			a := poll(t, handle)
			if e := errCode(a); a.code == 400 && (e == "authorization_pending" || e == "slow_down") {
				time.Sleep(1100 * time.Millisecond)
				continue
			}
			return a
		}
		t.Fatal("still pending")
		return answer{}
	}
	at := c.startLogin(t, "/")

	t.Run("guessed and foreign handles", func(t *testing.T) {
		d := start(t) // pending, never approved
		before := c.allSessions(t)
		for _, h := range []string{
			"", "x", strings.Repeat("A", 43), strings.Repeat("_", 43), at.state, at.binding, d.UserCode,
			d.Request + "A", d.Request[:42], strings.ToUpper(d.Request), " " + d.Request, s.token,
		} {
			a := poll(t, h)
			if a.code != 400 || !strings.Contains(a.body, "unknown or already used device_request") || strings.Contains(a.body, `"token"`) {
				t.Errorf("handle %q: %s", h, a)
			}
		}
		for _, body := range []string{`{"device_request":"` + d.Request + `","extra":1}`, `{"device_request":["` + d.Request + `"]}`, `[]`, `{"device_request":"` + d.Request + `"} {}`, `{"device_request":"a","device_request":"` + d.Request + `"}`} {
			if a := c.send(t, "POST", "/auth/device/token", []byte(body), "Content-Type", "application/json"); a.code != 400 || strings.Contains(a.body, `"token"`) {
				t.Errorf("body %s: %s", body, a)
			}
		}
		c.unchanged(t, before)
		if a := poll(t, d.Request); errCode(a) != "authorization_pending" && errCode(a) != "slow_down" {
			t.Errorf("the real handle after the guesses: %s", a)
		}
	})

	t.Run("reuse after success", func(t *testing.T) {
		d := start(t)
		if err := s.sso.IdP.ApproveDevice(d.UserCode, "bob"); err != nil {
			t.Fatal(err)
		}
		a := waitToken(t, d.Request)
		var v struct {
			Token string `json:"token"`
		}
		if a.code != 200 || json.Unmarshal([]byte(a.body), &v) != nil || v.Token == "" {
			t.Fatalf("approved: %s", a)
		}
		checkSecurityHeaders(t, "device token", a)
		before := c.allSessions(t)
		if before[sessionIDOf(v.Token)] != userID("bob")+"/cli" {
			t.Errorf("the new session is listed as %q", before[sessionIDOf(v.Token)])
		}
		for i := 0; i < 3; i++ {
			if a := poll(t, d.Request); a.code != 400 || !strings.Contains(a.body, "unknown or already used") {
				t.Errorf("reuse %d: %s", i, a)
			}
		}
		c.unchanged(t, before)
		if who, r := c.meAs(t, cookie(v.Token)...); who != "" {
			t.Errorf("a CLI session as a cookie: %s", r)
		}
	})

	t.Run("ten polls at once after approval make one session", func(t *testing.T) {
		d := start(t)
		if err := s.sso.IdP.ApproveDevice(d.UserCode, "bob"); err != nil {
			t.Fatal(err)
		}
		before := c.allSessions(t)
		time.Sleep(1100 * time.Millisecond)
		answers := make(chan answer, 10)
		var wg sync.WaitGroup
		for i := 0; i < 10; i++ {
			wg.Add(1)
			go func() { defer wg.Done(); answers <- poll(t, d.Request) }()
		}
		wg.Wait()
		close(answers)
		tokens := 0
		for a := range answers {
			if a.code == 200 {
				tokens++
			} else if a.code != 400 {
				t.Errorf("a concurrent poll: %s", a)
			}
		}
		if tokens > 1 {
			t.Errorf("%d tokens from one device sign-in", tokens)
		}
		if tokens == 0 {
			// All were early (slow_down); one more poll must finish it.
			time.Sleep(1100 * time.Millisecond)
			if a := waitToken(t, d.Request); a.code != 200 {
				t.Fatalf("after the burst: %s", a)
			}
		}
		if n := len(c.allSessions(t)) - len(before); n != 1 {
			t.Errorf("%d sessions created, want 1", n)
		}
	})

	t.Run("denied at the provider", func(t *testing.T) {
		d := start(t)
		before := c.allSessions(t)
		if err := s.sso.IdP.DenyDevice(d.UserCode); err != nil {
			t.Fatal(err)
		}
		a := waitToken(t, d.Request)
		if a.code != 400 || errCode(a) != "access_denied" {
			t.Errorf("denied: %s, want 400 access_denied", a)
		}
		if err := s.sso.IdP.ApproveDevice(d.UserCode, "alice"); err == nil {
			t.Errorf("the denied code could be approved afterwards")
		}
		// The edge keeps nothing of a request that did not sign anyone in:
		// the provider's own answer is passed through, and it is no token.
		if a := poll(t, d.Request); a.code != 400 || strings.Contains(a.body, `"token"`) {
			t.Errorf("after the denial: %s", a)
		}
		c.unchanged(t, before)
	})

	t.Run("a user the rules do not allow", func(t *testing.T) {
		d := start(t)
		before := c.allSessions(t)
		if err := s.sso.IdP.ApproveDevice(d.UserCode, "mallory"); err != nil {
			t.Fatal(err)
		}
		if a := waitToken(t, d.Request); a.code != 403 || strings.Contains(a.body, `"token"`) {
			t.Errorf("mallory: %s, want 403", a)
		}
		if a := poll(t, d.Request); a.code != 400 || strings.Contains(a.body, `"token"`) {
			t.Errorf("after the refusal: %s", a)
		}
		c.unchanged(t, before)
	})

	t.Run("unknown provider and bad starts", func(t *testing.T) {
		before := c.allSessions(t)
		for _, tc := range []struct {
			body, ct string
			want     int
		}{
			{`{"provider":"nope"}`, "application/json", 400},
			{`{"provider":"DEV"}`, "application/json", 400},
			{`{"provider":""}`, "application/json", 400},
			{`{}`, "application/json", 400},
			{`{"provider":"dev","scope":"admin"}`, "application/json", 400},
			{`provider=dev`, "application/x-www-form-urlencoded", 415},
			{`{"provider":"dev"}`, "text/plain", 415},
		} {
			a := c.send(t, "POST", "/auth/device", []byte(tc.body), "Content-Type", tc.ct)
			if a.code != tc.want || strings.Contains(a.body, "device_request\":") {
				t.Errorf("%s as %s: %s, want %d", tc.body, tc.ct, a, tc.want)
			}
		}
		if a := c.send(t, "POST", "/auth/device", []byte(`{"provider":"dev"}`), "Content-Type", "application/json", "Sec-Fetch-Site", "cross-site"); a.code != 403 {
			t.Errorf("cross-site device start: %s, want 403", a)
		}
		c.unchanged(t, before)
	})
}

// TestSSOOddInputs: big and malformed headers and parameters reach the
// deployed stack and are refused cleanly (never a 5xx), and the stack
// keeps working.
func TestSSOOddInputs(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)
	browser := c.signIn(t, "alice")
	before := c.allSessions(t)
	many := func(n int, tail string) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			fmt.Fprintf(&b, "c%d=v%d; ", i, i)
		}
		return b.String() + tail
	}
	for _, tc := range []struct {
		name   string
		cookie string
		ok     bool // the session is (still) recognised
	}{
		{"100 KB cookie header", "x=" + strings.Repeat("a", 100<<10), false},
		{"100 KB cookie header with the session", "x=" + strings.Repeat("a", 100<<10) + "; " + sessionCookieName + "=" + browser, true},
		{"1000 cookies", many(1000, "z=1"), false},
		{"1000 cookies and the session", many(1000, sessionCookieName+"="+browser), true},
		{"1000 session cookies", strings.Repeat(sessionCookieName+"="+browser+"; ", 1000), false},
		{"non-UTF-8 session cookie", sessionCookieName + "=\xff\xfe\x80" + browser[3:], false},
		{"non-UTF-8 cookie beside the session", "x=\xff\xfe\x80; " + sessionCookieName + "=" + browser, true},
		{"the session cookie with a trailing space", sessionCookieName + "=" + browser + " ", true},
		{"semicolons only", ";;;;;;", false},
		{"equals only", "=", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := c.send(t, "GET", "/v1/me", nil, "Cookie", tc.cookie)
			if a.code >= 500 {
				t.Fatalf("got %s", a)
			}
			if tc.ok && a.code != 200 && a.code != 431 {
				t.Errorf("got %s, want the session recognised (or 431 for too large a header)", a)
			}
			if !tc.ok && a.code == 200 {
				t.Errorf("got %s, want a refusal", a)
			}
			if a.code != 431 {
				checkSecurityHeaders(t, tc.name, a)
			}
		})
	}
	t.Run("a long URL", func(t *testing.T) {
		a := c.send(t, "GET", "/v1/me?x="+strings.Repeat("a", 60<<10), nil, cookie(browser)...)
		if a.code >= 500 {
			t.Errorf("got %s", a)
		}
	})
	t.Run("lower-case and unknown methods", func(t *testing.T) {
		for _, m := range []string{"post", "delete", "PATCH", "PUT", "PROPFIND", "TRACE"} {
			a := c.send(t, m, "/v1/sessions/"+sessionIDOf(browser), []byte("{}"), hdrs(cookie(browser), []string{"Content-Type", "application/json"})...)
			if a.code < 400 || a.code >= 500 && a.code != 501 {
				t.Errorf("%s: %s", m, a)
			}
		}
	})
	t.Run("a body over the limit on a Sessions route", func(t *testing.T) {
		big := []byte(`{"provider":"` + strings.Repeat("a", 70<<10) + `"}`)
		if a := c.send(t, "POST", "/auth/device", big, "Content-Type", "application/json"); a.code != 413 {
			t.Errorf("got %s, want 413", a)
		}
		if a := c.send(t, "DELETE", "/v1/sessions/"+sessionIDOf(browser), big, hdrs(bearer(s.token), []string{"Content-Type", "application/json"})...); a.code != 413 {
			t.Errorf("got %s, want 413", a)
		}
	})
	c.unchanged(t, before)
	t.Run("the stack still works", func(t *testing.T) {
		if who, a := c.meAs(t, cookie(browser)...); who == "" {
			t.Errorf("%s", a)
		}
		if a := c.send(t, "GET", "/v1/healthz", nil); a.code != 200 {
			t.Errorf("%s", a)
		}
	})
}

// TestSSOSignInFlood: starting a sign-in stores nothing (sign-ins in
// progress are sealed in the login cookie or the device_request handle),
// so anonymous starts cannot lock anyone out. By default 200 anonymous
// GET /auth/login and 20 POST /auth/device, then a real person signs in
// from the browser and the CLI; with AIRLOCK_E2E_FLOOD=1 also 10 000
// anonymous logins — more than the old cap of pending sign-ins, whose
// flood made every sign-in answer 503 for 10 minutes — on a stack of its
// own (minutes: too slow for every run). That nothing is stored is
// checked row by row in edge/sessions (TestSignInStartsStoreNothing).
func TestSSOSignInFlood(t *testing.T) {
	s := shared(t)
	c := newSSOClient(t, s)
	flood := func(t *testing.T, st *stack, cl *ssoClient, logins, devices int) {
		var next, refused int64
		var wg sync.WaitGroup
		for w := 0; w < 32; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := atomic.AddInt64(&next, 1); i <= int64(logins+devices); i = atomic.AddInt64(&next, 1) {
					var r *http.Response
					var err error
					if i <= int64(logins) {
						r, err = cl.cp.Get(st.cp.URL + "/auth/login?provider=dev")
					} else {
						r, err = cl.cp.Post(st.cp.URL+"/auth/device", "application/json", strings.NewReader(`{"provider":"dev"}`))
					}
					if err != nil {
						atomic.AddInt64(&refused, 1)
						continue
					}
					r.Body.Close()
					if r.StatusCode != 302 && r.StatusCode != 200 {
						atomic.AddInt64(&refused, 1)
					}
				}
			}()
		}
		wg.Wait()
		if refused != 0 {
			t.Errorf("%d of %d anonymous sign-in starts failed", refused, logins+devices)
		}
		before := cl.allSessions(t)
		tok := cl.signIn(t, "bob")
		if who, r := cl.meAs(t, cookie(tok)...); who != userID("bob") {
			t.Errorf("after the flood, a real person's browser session: %s", r)
		}
		cli := cl.cliSession(t, "bob")
		if who, r := cl.meAs(t, bearer(cli)...); who != userID("bob") {
			t.Errorf("after the flood, a real person's CLI session: %s", r)
		}
		if n := len(cl.allSessions(t)) - len(before); n != 2 {
			t.Errorf("%d sessions created, want the 2 real ones", n)
		}
	}
	t.Run("200 anonymous sign-in starts do not stop a real sign-in", func(t *testing.T) {
		flood(t, s, c, 200, 20)
	})
	t.Run("10 000 anonymous sign-in starts do not lock everyone out", func(t *testing.T) {
		if os.Getenv("AIRLOCK_E2E_FLOOD") == "" {
			t.Skip("set AIRLOCK_E2E_FLOOD=1 to flood a stack of its own with 10 000 sign-in starts (minutes)")
		}
		own := startStack(t, "")
		flood(t, own, newSSOClient(t, own), 10000, 0)
	})
}
