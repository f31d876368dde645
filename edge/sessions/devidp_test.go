package sessions_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/airlockci/airlock/edge/sessions"
	"github.com/airlockci/airlock/internal/devidp"
	"github.com/airlockci/airlock/internal/identity/httpfetch"
	"github.com/airlockci/airlock/internal/sqlitedb"
)

// TestDevIDPEndToEnd signs in against internal/devidp, a real OpenID
// provider (zitadel/oidc): the authorization code flow with PKCE, driven
// by an http.Client with a cookie jar that submits the provider's login
// form, and the device flow.
func TestDevIDPEndToEnd(t *testing.T) {
	const ours = "http://127.0.0.1:8787" // never dialled: the test hands the callback to Serve
	idp, err := devidp.Start(devidp.Options{RedirectURIs: []string{ours + "/auth/callback"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idp.Close() })
	cfg, err := sessions.LoadConfig("dev-sso.yml", []byte(fmt.Sprintf(`public_url: %s
providers:
  - id: dev
    name: Development IdP
    issuer: %s
    client_id: %s
    scopes: [openid, email, profile, groups]
    allow: {email_domains: [example.com]}
    admins: {groups: [airlock-admins]}
`, ours, idp.Issuer(), devidp.DefaultClientID)))
	if err != nil {
		t.Fatal(err)
	}
	db, err := sqlitedb.Open(":memory:")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc, err := sessions.New(db, httpfetch.New(5*time.Second, 0), time.Now, cfg, nil, t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(method, target string, h map[string]string, body string) sessions.Response {
		if h == nil {
			h = map[string]string{}
		}
		if body != "" {
			h["content-type"] = "application/json"
		}
		return svc.Serve(context.Background(), sessions.Request{Method: method, URL: ours + target, Header: h, Body: []byte(body)})
	}

	// Browser: /auth/login → the provider's login form → back to us.
	r := serve("GET", "/auth/login?provider=dev&return_to=/runs", nil, "")
	binding, _, ok := setCookie(r, sessions.LoginCookie)
	if r.Status != 302 || !ok {
		t.Fatalf("login: %d %s", r.Status, r.Body)
	}
	jar, _ := cookiejar.New(nil)
	var callback *url.URL
	client := &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), ours+"/") {
			callback = req.URL
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := client.Get(r.Header["location"])
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	m := regexp.MustCompile(`name="authRequestID" value="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != 200 || m == nil {
		t.Fatalf("expected the provider's login form, got %d %s", resp.StatusCode, page)
	}
	resp, err = client.PostForm(idp.Issuer()+"/login", url.Values{"authRequestID": {string(m[1])}, "username": {"alice"}, "password": {"alice-password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if callback == nil {
		t.Fatalf("the provider did not redirect back to us (status %d)", resp.StatusCode)
	}
	if callback.Query().Get("iss") != idp.Issuer() {
		t.Errorf("callback %s has no RFC 9207 iss", callback)
	}
	r = svc.Serve(context.Background(), sessions.Request{Method: "GET", URL: callback.String(), Header: map[string]string{"cookie": sessions.LoginCookie + "=" + binding, "sec-fetch-site": "cross-site"}})
	token, _, ok := setCookie(r, sessions.SessionCookie)
	if r.Status != 200 || !ok || !strings.Contains(string(r.Body), `url=/runs"`) {
		t.Fatalf("callback: %d %s", r.Status, r.Body)
	}
	me := decode(t, serve("GET", "/v1/me", map[string]string{"cookie": sessions.SessionCookie + "=" + token}, ""))
	u := me["user"].(map[string]any)
	if u["id"] != "dev#"+devidp.SubjectFor("alice") || u["role"] != "admin" || u["email"] != "alice@example.com" || u["name"] != "Alice Admin" {
		t.Errorf("me: %v", me)
	}

	// CLI: the device flow, approved at the provider.
	r = serve("POST", "/auth/device", nil, `{"provider":"dev"}`)
	d := decode(t, r)
	if r.Status != 200 {
		t.Fatalf("device: %d %s", r.Status, r.Body)
	}
	poll := func() sessions.Response {
		return serve("POST", "/auth/device/token", nil, `{"device_request":"`+d["device_request"].(string)+`"}`)
	}
	if r := poll(); r.Status != 400 || !strings.Contains(string(r.Body), `"error":"authorization_pending"`) {
		t.Fatalf("first poll: %d %s, want authorization_pending", r.Status, r.Body)
	}
	if err := idp.ApproveDevice(d["user_code"].(string), "bob"); err != nil {
		t.Fatal(err)
	}
	r = poll()
	out := decode(t, r)
	if r.Status != 200 || out["user"].(map[string]any)["role"] != "member" {
		t.Fatalf("device token: %d %s", r.Status, r.Body)
	}
	if r := serve("GET", "/v1/runs", map[string]string{"authorization": "Bearer " + out["token"].(string)}, ""); r.Forward == nil || r.Forward.Email != "bob@example.com" || r.Forward.Kind != "cli" {
		t.Errorf("forward with the CLI token: %+v", r)
	}

	// Mallory is not allowed; the provider's answer is refused with 403.
	r = serve("GET", "/auth/login?provider=dev", nil, "")
	binding, _, _ = setCookie(r, sessions.LoginCookie)
	callback = nil
	resp, err = client.Get(r.Header["location"])
	if err != nil {
		t.Fatal(err)
	}
	page, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	m = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`).FindSubmatch(page)
	resp, err = client.PostForm(idp.Issuer()+"/login", url.Values{"authRequestID": {string(m[1])}, "username": {"mallory"}, "password": {"mallory-password"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r = svc.Serve(context.Background(), sessions.Request{Method: "GET", URL: callback.String(), Header: map[string]string{"cookie": sessions.LoginCookie + "=" + binding}})
	if r.Status != 403 || !strings.Contains(string(r.Body), "mallory@evil.example may not sign in") {
		t.Errorf("mallory: %d %s", r.Status, r.Body)
	}
}
