package devidp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/client/rp"
	"github.com/zitadel/oidc/v3/pkg/oidc"

	"github.com/airlockci/airlock/internal/devidp"
)

// The control plane's callback in these tests. Nothing listens there: the
// browser stand-in stops at the redirect to it.
const redirectURI = "http://127.0.0.1:9/auth/callback"

func start(t *testing.T, opts devidp.Options) *devidp.Provider {
	t.Helper()
	if opts.Clients == nil && opts.RedirectURIs == nil {
		opts.RedirectURIs = []string{redirectURI}
	}
	p, err := devidp.Start(opts)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return p
}

// browser is an http.Client with a cookie jar that follows redirects until
// one leaves for the client's redirect URI, like a browser that gets back
// to the relying party.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{
		Jar: jar,
		CheckRedirect: func(req *http.Request, _ []*http.Request) error {
			if strings.HasPrefix(req.URL.String(), "http://127.0.0.1:9/") {
				return http.ErrUseLastResponse
			}
			return nil
		},
		Timeout: 10 * time.Second,
	}
}

type authParams struct {
	clientID, redirectURI, scope, state, nonce string
	challenge, method                          string
}

func (a authParams) url(issuer string) string {
	q := url.Values{
		"response_type": {"code"},
		"client_id":     {a.clientID},
		"redirect_uri":  {a.redirectURI},
		"scope":         {a.scope},
		"state":         {a.state},
		"nonce":         {a.nonce},
	}
	if a.challenge != "" {
		q.Set("code_challenge", a.challenge)
	}
	if a.method != "" {
		q.Set("code_challenge_method", a.method)
	}
	return issuer + "/authorize?" + q.Encode()
}

func defaultParams(verifier string) authParams {
	return authParams{
		clientID: devidp.DefaultClientID, redirectURI: redirectURI,
		scope: "openid email profile groups", state: "state-" + oidc.NewSHACodeChallenge(verifier)[:8], nonce: "nonce-123",
		challenge: oidc.NewSHACodeChallenge(verifier), method: "S256",
	}
}

func body(t *testing.T, resp *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

var authRequestIDInput = regexp.MustCompile(`name="authRequestID" value="([^"]+)"`)

// openLogin follows the authorization request to the login page and
// returns the auth request ID from its form.
func openLogin(t *testing.T, c *http.Client, p *devidp.Provider, a authParams) string {
	t.Helper()
	resp, err := c.Get(a.url(p.Issuer()))
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Request.URL.String(), p.Issuer()+"/login?authRequestID=") {
		t.Fatalf("authorize: got %d at %s, want 200 at the login page\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	for _, want := range []string{`<label for="username">`, `id="username"`, `<label for="password">`, `id="password"`, `>Sign in</button>`} {
		if !strings.Contains(page, want) {
			t.Errorf("login page lacks %s", want)
		}
	}
	m := authRequestIDInput.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("login page has no authRequestID:\n%s", page)
	}
	return m[1]
}

// submitLogin posts the login form and returns the final response (the
// redirect to the client, or the page shown).
func submitLogin(t *testing.T, c *http.Client, p *devidp.Provider, id, username, password string) *http.Response {
	t.Helper()
	resp, err := c.PostForm(p.Issuer()+"/login", url.Values{"authRequestID": {id}, "username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// signIn runs the browser part of the code flow and returns the query of
// the redirect back to the client.
func signIn(t *testing.T, p *devidp.Provider, a authParams, username string) url.Values {
	t.Helper()
	c := browser(t)
	id := openLogin(t, c, p, a)
	resp := submitLogin(t, c, p, id, username, username+"-password")
	resp.Body.Close()
	return callbackQuery(t, resp, a.redirectURI)
}

func callbackQuery(t *testing.T, resp *http.Response, redirect string) url.Values {
	t.Helper()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(loc, redirect+"?") {
		t.Fatalf("got %d Location %q, want 302 to %s", resp.StatusCode, loc, redirect)
	}
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query()
}

// tokenRequest posts form to the token endpoint and returns the status
// and the JSON answer.
func tokenRequest(t *testing.T, p *devidp.Provider, form url.Values, basicUser, basicPass string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, p.Issuer()+"/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basicUser != "" {
		req.SetBasicAuth(basicUser, basicPass)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal([]byte(body(t, resp)), &out); err != nil {
		t.Fatalf("token response: %v", err)
	}
	return resp.StatusCode, out
}

func exchange(t *testing.T, p *devidp.Provider, code, verifier string) (int, map[string]any) {
	t.Helper()
	return tokenRequest(t, p, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirectURI},
		"client_id": {devidp.DefaultClientID}, "code_verifier": {verifier},
	}, "", "")
}

func verifyIDToken(t *testing.T, p *devidp.Provider, clientID, raw, nonce string) *oidc.IDTokenClaims {
	t.Helper()
	keys := rp.NewRemoteKeySet(http.DefaultClient, p.Issuer()+"/keys")
	v := rp.NewIDTokenVerifier(p.Issuer(), clientID, keys, rp.WithNonce(func(context.Context) string { return nonce }))
	claims, err := rp.VerifyIDToken[*oidc.IDTokenClaims](context.Background(), raw, v)
	if err != nil {
		t.Fatalf("ID token does not verify: %v", err)
	}
	return claims
}

// jwtPayload decodes a JWT's claims without verifying it (verifyIDToken
// does that), to see exactly what is on the wire.
func jwtPayload(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a compact JWS: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func wantError(t *testing.T, status int, got map[string]any, wantStatus int, wantErr string) {
	t.Helper()
	if status != wantStatus || got["error"] != wantErr {
		t.Errorf("got %d %v, want %d error %q", status, got, wantStatus, wantErr)
	}
}

func TestDiscovery(t *testing.T) {
	p := start(t, devidp.Options{})
	if !strings.HasPrefix(p.Issuer(), "http://localhost:") {
		t.Errorf("Issuer() = %q, want http://localhost:PORT", p.Issuer())
	}
	resp, err := http.Get(p.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(body(t, resp)), &doc); err != nil {
		t.Fatal(err)
	}
	iss := p.Issuer()
	for k, want := range map[string]any{
		"issuer":                        iss,
		"authorization_endpoint":        iss + "/authorize",
		"token_endpoint":                iss + "/oauth/token",
		"device_authorization_endpoint": iss + "/device_authorization",
		"jwks_uri":                      iss + "/keys",
		"userinfo_endpoint":             iss + "/userinfo",
		"authorization_response_iss_parameter_supported": true,
	} {
		if doc[k] != want {
			t.Errorf("%s = %v, want %v", k, doc[k], want)
		}
	}
	for k, want := range map[string][]any{
		"code_challenge_methods_supported": {"S256"},
		"response_types_supported":         {"code"},
		"grant_types_supported":            {"authorization_code", "urn:ietf:params:oauth:grant-type:device_code"},
	} {
		got, _ := doc[k].([]any)
		if !slices.Equal(got, want) {
			t.Errorf("%s = %v, want %v", k, got, want)
		}
	}
	scopes, _ := doc["scopes_supported"].([]any)
	if !slices.Contains(scopes, any("groups")) {
		t.Errorf("scopes_supported = %v, want it to include groups", scopes)
	}

	resp, err = http.Get(iss + "/keys")
	if err != nil {
		t.Fatal(err)
	}
	var jwks struct {
		Keys []struct{ Kid, Alg, Kty, Use string }
	}
	if err := json.Unmarshal([]byte(body(t, resp)), &jwks); err != nil {
		t.Fatal(err)
	}
	if len(jwks.Keys) != 1 || jwks.Keys[0].Kid == "" || jwks.Keys[0].Alg != "RS256" || jwks.Keys[0].Kty != "RSA" {
		t.Errorf("JWKS = %+v, want one RSA RS256 key with a kid", jwks.Keys)
	}
}

func TestAuthorizationCodeFlow(t *testing.T) {
	p := start(t, devidp.Options{})
	tests := []struct {
		user, scope       string
		wantEmail         string
		wantVerified      bool
		wantName          string
		wantGroups        []string // nil: no groups claim
		wantNoProfileInfo bool
	}{
		{user: "alice", scope: "openid email profile groups", wantEmail: "alice@example.com", wantVerified: true, wantName: "Alice Admin", wantGroups: []string{"airlock-admins", "eng"}},
		{user: "bob", scope: "openid email profile groups", wantEmail: "bob@example.com", wantVerified: true, wantName: "Bob Builder", wantGroups: []string{"eng"}},
		{user: "mallory", scope: "openid email groups", wantEmail: "mallory@evil.example", wantVerified: true, wantGroups: []string{}, wantNoProfileInfo: true},
		{user: "unverified", scope: "openid email profile", wantEmail: "carol@example.com", wantVerified: false, wantName: "Carol Unverified"},
		{user: "alice", scope: "openid", wantNoProfileInfo: true},
	}
	for _, tt := range tests {
		t.Run(tt.user+"/"+tt.scope, func(t *testing.T) {
			verifier := oidc.NewSHACodeChallenge(tt.user + tt.scope + "-a-long-enough-verifier-0123456789")
			a := defaultParams(verifier)
			a.scope = tt.scope
			q := signIn(t, p, a, tt.user)
			if q.Get("state") != a.state || q.Get("code") == "" {
				t.Fatalf("callback query = %v, want a code and state %q", q, a.state)
			}
			if q.Get("iss") != p.Issuer() {
				t.Errorf("callback iss = %q, want %q (RFC 9207)", q.Get("iss"), p.Issuer())
			}

			status, tok := exchange(t, p, q.Get("code"), verifier)
			if status != http.StatusOK {
				t.Fatalf("token exchange: got %d %v, want 200", status, tok)
			}
			raw, _ := tok["id_token"].(string)
			c := verifyIDToken(t, p, devidp.DefaultClientID, raw, a.nonce)
			if c.Subject != devidp.SubjectFor(tt.user) {
				t.Errorf("sub = %q, want %q", c.Subject, devidp.SubjectFor(tt.user))
			}
			if c.Nonce != a.nonce {
				t.Errorf("nonce = %q, want %q", c.Nonce, a.nonce)
			}
			if c.AuthorizedParty != devidp.DefaultClientID || !slices.Equal([]string(c.Audience), []string{devidp.DefaultClientID}) {
				t.Errorf("azp = %q, aud = %v, want both %q", c.AuthorizedParty, c.Audience, devidp.DefaultClientID)
			}
			if life := c.Expiration.AsTime().Sub(c.IssuedAt.AsTime()); life != 5*time.Minute {
				t.Errorf("exp - iat = %v, want 5m", life)
			}
			if c.Email != tt.wantEmail || bool(c.EmailVerified) != tt.wantVerified {
				t.Errorf("email = %q verified %v, want %q verified %v", c.Email, c.EmailVerified, tt.wantEmail, tt.wantVerified)
			}
			if strings.Contains(tt.scope, "email") {
				if v, ok := jwtPayload(t, raw)["email_verified"]; !ok || v != tt.wantVerified {
					t.Errorf("raw email_verified = %v (present %v), want %v stated explicitly", v, ok, tt.wantVerified)
				}
			}
			wantUsername := tt.user
			if tt.wantNoProfileInfo {
				wantUsername = ""
			}
			if c.Name != tt.wantName || c.PreferredUsername != wantUsername {
				t.Errorf("name = %q preferred_username = %q, want %q and %q", c.Name, c.PreferredUsername, tt.wantName, wantUsername)
			}
			groups, hasGroups := c.Claims["groups"]
			if tt.wantGroups == nil {
				if hasGroups {
					t.Errorf("groups = %v, want no groups claim without the groups scope", groups)
				}
			} else {
				var got []string
				list, ok := groups.([]any)
				for _, g := range list {
					got = append(got, g.(string))
				}
				if !ok || !slices.Equal(got, tt.wantGroups) && !(len(got) == 0 && len(tt.wantGroups) == 0) {
					t.Errorf("groups = %#v, want %v", groups, tt.wantGroups)
				}
			}

			// The access token works at userinfo and gives the same subject.
			req, _ := http.NewRequest(http.MethodGet, p.Issuer()+"/userinfo", nil)
			req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var info map[string]any
			if err := json.Unmarshal([]byte(body(t, resp)), &info); err != nil || resp.StatusCode != http.StatusOK {
				t.Fatalf("userinfo: got %d %v (%v)", resp.StatusCode, info, err)
			}
			if info["sub"] != c.Subject {
				t.Errorf("userinfo sub = %v, want %q", info["sub"], c.Subject)
			}
		})
	}
}

func TestCodeIsOneTime(t *testing.T) {
	p := start(t, devidp.Options{})
	verifier := "one-time-verifier-0123456789-0123456789-abcdefgh"
	q := signIn(t, p, defaultParams(verifier), "alice")
	if status, tok := exchange(t, p, q.Get("code"), verifier); status != http.StatusOK {
		t.Fatalf("first exchange: got %d %v, want 200", status, tok)
	}
	status, tok := exchange(t, p, q.Get("code"), verifier)
	wantError(t, status, tok, http.StatusBadRequest, "invalid_grant")
}

func TestWrongVerifier(t *testing.T) {
	p := start(t, devidp.Options{})
	verifier := "right-verifier-0123456789-0123456789-0123456789"
	q := signIn(t, p, defaultParams(verifier), "alice")
	status, tok := exchange(t, p, q.Get("code"), "wrong-verifier-0123456789-0123456789-0123456789")
	wantError(t, status, tok, http.StatusBadRequest, "invalid_grant")
	status, tok = exchange(t, p, q.Get("code"), "")
	wantError(t, status, tok, http.StatusBadRequest, "invalid_grant")
	// A failed attempt burns the code: the right verifier is now too late.
	status, tok = exchange(t, p, q.Get("code"), verifier)
	wantError(t, status, tok, http.StatusBadRequest, "invalid_grant")
}

func TestWrongPassword(t *testing.T) {
	p := start(t, devidp.Options{})
	verifier := "wrong-password-verifier-0123456789-0123456789"
	a := defaultParams(verifier)
	c := browser(t)
	id := openLogin(t, c, p, a)

	for _, tc := range []struct{ user, pass string }{
		{"alice", "bob-password"},
		{"alice", ""},
		{"nobody", "nobody-password"},
	} {
		resp := submitLogin(t, c, p, id, tc.user, tc.pass)
		page := body(t, resp)
		if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
			t.Errorf("%s/%q: got %d Location %q, want 401 and no redirect", tc.user, tc.pass, resp.StatusCode, resp.Header.Get("Location"))
		}
		if !strings.Contains(page, "Wrong username or password") || !strings.Contains(page, `id="password"`) || !strings.Contains(page, id) {
			t.Errorf("%s/%q: want the form again with an error, got\n%s", tc.user, tc.pass, page)
		}
	}

	// The request is still usable with the right password.
	resp := submitLogin(t, c, p, id, "alice", "alice-password")
	resp.Body.Close()
	q := callbackQuery(t, resp, redirectURI)
	if status, tok := exchange(t, p, q.Get("code"), verifier); status != http.StatusOK {
		t.Errorf("exchange after a retried login: got %d %v, want 200", status, tok)
	}
	// ... once: signing in again for the same request fails.
	resp = submitLogin(t, c, p, id, "alice", "alice-password")
	body(t, resp)
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("second login for one request: got %d, want 400", resp.StatusCode)
	}
}

func TestAuthorizeRequiresPKCE(t *testing.T) {
	p := start(t, devidp.Options{})
	verifier := "pkce-verifier-0123456789-0123456789-0123456789"
	tests := []struct {
		name              string
		challenge, method string
	}{
		{"no challenge", "", ""},
		{"no challenge, S256", "", "S256"},
		{"plain", verifier, "plain"},
		{"method omitted (means plain)", verifier, ""},
		{"unknown method", verifier, "S512"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := defaultParams(verifier)
			a.challenge, a.method = tt.challenge, tt.method
			resp, err := browser(t).Get(a.url(p.Issuer()))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			q := callbackQuery(t, resp, redirectURI)
			if q.Get("error") != "invalid_request" || q.Get("state") != a.state || q.Get("code") != "" {
				t.Errorf("callback query = %v, want error=invalid_request with state and no code", q)
			}
			if q.Get("iss") != p.Issuer() {
				t.Errorf("error response iss = %q, want %q", q.Get("iss"), p.Issuer())
			}
		})
	}
}

func TestUnregisteredRedirectURIIsNotFollowed(t *testing.T) {
	p := start(t, devidp.Options{})
	for _, uri := range []string{
		"http://127.0.0.1:9/auth/callback/",
		"http://127.0.0.1:10/auth/callback",
		"http://localhost:9/auth/callback",
		"https://evil.example/auth/callback",
	} {
		a := defaultParams("redirect-verifier-0123456789-0123456789-012345")
		a.redirectURI = uri
		resp, err := browser(t).Get(a.url(p.Issuer()))
		if err != nil {
			t.Fatal(err)
		}
		body(t, resp)
		if resp.StatusCode < 400 || resp.Request.URL.Host != strings.TrimPrefix(p.Issuer(), "http://") {
			t.Errorf("%s: got %d at %s, want an error page at the provider", uri, resp.StatusCode, resp.Request.URL)
		}
	}
}

func TestConfidentialClient(t *testing.T) {
	const cb = "http://127.0.0.1:9/web/callback"
	p := start(t, devidp.Options{Clients: []devidp.Client{{ID: "web", Secret: "s3cret", RedirectURIs: []string{cb}}}})
	verifier := "confidential-verifier-0123456789-0123456789-01"
	a := defaultParams(verifier)
	a.clientID, a.redirectURI = "web", cb
	q := signIn(t, p, a, "bob")
	form := url.Values{"grant_type": {"authorization_code"}, "code": {q.Get("code")}, "redirect_uri": {cb}, "code_verifier": {verifier}}

	status, tok := tokenRequest(t, p, form, "web", "wrong")
	if status == http.StatusOK {
		t.Fatalf("wrong secret: got 200 %v", tok)
	}
	// The failed attempt above consumed the code (client authentication
	// comes after the code lookup in zitadel), so sign in again.
	q = signIn(t, p, a, "bob")
	form.Set("code", q.Get("code"))
	status, tok = tokenRequest(t, p, form, "web", "s3cret")
	if status != http.StatusOK {
		t.Fatalf("right secret: got %d %v, want 200", status, tok)
	}
	c := verifyIDToken(t, p, "web", tok["id_token"].(string), a.nonce)
	if c.AuthorizedParty != "web" {
		t.Errorf("azp = %q, want web", c.AuthorizedParty)
	}
}

// ---- device flow ----

type deviceAuth struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	Interval                int    `json:"interval"`
}

func startDevice(t *testing.T, p *devidp.Provider, clientID string) deviceAuth {
	t.Helper()
	resp, err := http.PostForm(p.Issuer()+"/device_authorization", url.Values{"client_id": {clientID}, "scope": {"openid email profile groups"}})
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, resp)
	var d deviceAuth
	if err := json.Unmarshal([]byte(b), &d); err != nil || resp.StatusCode != http.StatusOK || d.DeviceCode == "" || d.UserCode == "" {
		t.Fatalf("device authorization: got %d %s (%v)", resp.StatusCode, b, err)
	}
	return d
}

func pollDevice(t *testing.T, p *devidp.Provider, d deviceAuth) (int, map[string]any) {
	t.Helper()
	return tokenRequest(t, p, url.Values{
		"grant_type": {string(devidp.GrantDeviceCode)}, "device_code": {d.DeviceCode}, "client_id": {devidp.DefaultClientID},
	}, "", "")
}

func TestDeviceFlow(t *testing.T) {
	p := start(t, devidp.Options{})
	d := startDevice(t, p, devidp.DefaultClientID)
	if d.VerificationURI != p.Issuer()+"/device" || d.VerificationURIComplete != p.Issuer()+"/device?user_code="+d.UserCode || d.Interval != 1 {
		t.Errorf("device authorization = %+v, want verification_uri %s/device and interval 1", d, p.Issuer())
	}

	status, tok := pollDevice(t, p, d)
	wantError(t, status, tok, http.StatusBadRequest, "authorization_pending")

	// The user code is matched ignoring case and the dash.
	if err := p.ApproveDevice(strings.ToLower(strings.ReplaceAll(d.UserCode, "-", "")), "bob"); err != nil {
		t.Fatalf("ApproveDevice: %v", err)
	}
	status, tok = pollDevice(t, p, d)
	if status != http.StatusOK {
		t.Fatalf("after approval: got %d %v, want 200", status, tok)
	}
	c := verifyIDToken(t, p, devidp.DefaultClientID, tok["id_token"].(string), "")
	if c.Subject != devidp.SubjectFor("bob") || c.Email != "bob@example.com" || c.PreferredUsername != "bob" {
		t.Errorf("ID token sub %q email %q preferred_username %q, want bob's", c.Subject, c.Email, c.PreferredUsername)
	}
	if tok["access_token"] == "" {
		t.Error("no access_token")
	}

	// Tokens come once per device code.
	status, tok = pollDevice(t, p, d)
	if status == http.StatusOK {
		t.Errorf("second poll after tokens: got 200 %v, want an error", tok)
	}
	if err := p.ApproveDevice(d.UserCode, "bob"); !errors.Is(err, devidp.ErrUnknownUserCode) {
		t.Errorf("ApproveDevice after use: got %v, want ErrUnknownUserCode", err)
	}
}

func TestDeviceDeny(t *testing.T) {
	p := start(t, devidp.Options{})
	d := startDevice(t, p, devidp.DefaultClientID)
	if err := p.DenyDevice(d.UserCode); err != nil {
		t.Fatalf("DenyDevice: %v", err)
	}
	status, tok := pollDevice(t, p, d)
	wantError(t, status, tok, http.StatusBadRequest, "access_denied")
	if err := p.ApproveDevice(d.UserCode, "alice"); !errors.Is(err, devidp.ErrUnknownUserCode) {
		t.Errorf("ApproveDevice after deny: got %v, want ErrUnknownUserCode", err)
	}
}

func TestDeviceErrors(t *testing.T) {
	p := start(t, devidp.Options{})
	d := startDevice(t, p, devidp.DefaultClientID)
	if err := p.ApproveDevice("BCDF-GHJK", "alice"); !errors.Is(err, devidp.ErrUnknownUserCode) {
		t.Errorf("ApproveDevice(unknown code): got %v, want ErrUnknownUserCode", err)
	}
	if err := p.DenyDevice("BCDF-GHJK"); !errors.Is(err, devidp.ErrUnknownUserCode) {
		t.Errorf("DenyDevice(unknown code): got %v, want ErrUnknownUserCode", err)
	}
	if err := p.ApproveDevice(d.UserCode, "nobody"); !errors.Is(err, devidp.ErrUnknownUser) {
		t.Errorf("ApproveDevice(unknown user): got %v, want ErrUnknownUser", err)
	}
	// Neither changed anything.
	status, tok := pollDevice(t, p, d)
	wantError(t, status, tok, http.StatusBadRequest, "authorization_pending")

	// A device code polled by another client gets nothing.
	status, tok = tokenRequest(t, p, url.Values{"grant_type": {string(devidp.GrantDeviceCode)}, "device_code": {d.DeviceCode}, "client_id": {"other"}}, "", "")
	if status == http.StatusOK {
		t.Errorf("device code of another client: got 200 %v", tok)
	}
}

func TestDeviceGrantNeedsPermission(t *testing.T) {
	p := start(t, devidp.Options{Clients: []devidp.Client{{ID: "web-only", RedirectURIs: []string{redirectURI}}}})
	resp, err := http.PostForm(p.Issuer()+"/device_authorization", url.Values{"client_id": {"web-only"}, "scope": {"openid"}})
	if err != nil {
		t.Fatal(err)
	}
	b := body(t, resp)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(b, "unauthorized_client") {
		t.Errorf("device authorization for a client without the grant: got %d %s, want 400 unauthorized_client", resp.StatusCode, b)
	}
}

func TestDevicePage(t *testing.T) {
	p := start(t, devidp.Options{})
	c := browser(t)

	d := startDevice(t, p, devidp.DefaultClientID)
	resp, err := c.Get(d.VerificationURIComplete)
	if err != nil {
		t.Fatal(err)
	}
	page := body(t, resp)
	for _, want := range []string{`id="user_code"`, `value="` + d.UserCode + `"`, `id="username"`, `id="password"`, `>Approve</button>`, `>Deny</button>`} {
		if !strings.Contains(page, want) {
			t.Errorf("device page lacks %s", want)
		}
	}

	post := func(code, user, pass, action string) (int, string) {
		resp, err := c.PostForm(p.Issuer()+"/device", url.Values{"user_code": {code}, "username": {user}, "password": {pass}, "action": {action}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body(t, resp)
	}
	if status, page := post(d.UserCode, "alice", "wrong", "approve"); status != http.StatusUnauthorized || !strings.Contains(page, "Wrong username or password") {
		t.Errorf("wrong password: got %d\n%s", status, page)
	}
	if status, page := post("BCDF-GHJK", "alice", "alice-password", "approve"); status != http.StatusBadRequest || !strings.Contains(page, "Unknown or expired code") {
		t.Errorf("unknown code: got %d\n%s", status, page)
	}
	status, tok := pollDevice(t, p, d)
	wantError(t, status, tok, http.StatusBadRequest, "authorization_pending")

	if status, page := post(d.UserCode, "alice", "alice-password", "approve"); status != http.StatusOK || !strings.Contains(page, "approved") {
		t.Fatalf("approve: got %d\n%s", status, page)
	}
	status, tok = pollDevice(t, p, d)
	if status != http.StatusOK {
		t.Fatalf("after approval on the page: got %d %v", status, tok)
	}
	if c := verifyIDToken(t, p, devidp.DefaultClientID, tok["id_token"].(string), ""); c.Subject != devidp.SubjectFor("alice") {
		t.Errorf("sub = %q, want alice's", c.Subject)
	}

	d = startDevice(t, p, devidp.DefaultClientID)
	if status, page := post(d.UserCode, "bob", "bob-password", "deny"); status != http.StatusOK || !strings.Contains(page, "denied") {
		t.Fatalf("deny: got %d\n%s", status, page)
	}
	status, tok = pollDevice(t, p, d)
	wantError(t, status, tok, http.StatusBadRequest, "access_denied")
}

// ---- options and lifecycle ----

func TestStartRejectsBadOptions(t *testing.T) {
	tests := []struct {
		name string
		opts devidp.Options
		want string
	}{
		{"issuer with path", devidp.Options{Issuer: "http://localhost:1/idp"}, "no path"},
		{"issuer not a URL", devidp.Options{Issuer: "localhost"}, "http(s) URL"},
		{"client without ID", devidp.Options{Clients: []devidp.Client{{}}}, "empty ID"},
		{"duplicate client", devidp.Options{Clients: []devidp.Client{{ID: "a"}, {ID: "a"}}}, "duplicate ID"},
		{"unknown grant", devidp.Options{Clients: []devidp.Client{{ID: "a", GrantTypes: []devidp.GrantType{"implicit"}}}}, "not supported"},
		{"relative redirect URI", devidp.Options{RedirectURIs: []string{"/cb"}}, "absolute URL"},
		{"duplicate user", devidp.Options{Users: []devidp.User{{Username: "a"}, {Username: "a"}}}, "duplicate Username"},
		{"user without name", devidp.Options{Users: []devidp.User{{}}}, "empty Username"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := devidp.Start(tt.opts)
			if err == nil {
				p.Close()
				t.Fatalf("Start: got nil error, want one containing %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Start: got %q, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestCustomUsersAndPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p := start(t, devidp.Options{Port: port, Users: []devidp.User{{Username: "dana", Subject: "sub-dana", Email: "dana@example.com", EmailVerified: true}}})
	if want := "http://localhost:" + strconv.Itoa(port); p.Issuer() != want {
		t.Errorf("Issuer() = %q, want %q", p.Issuer(), want)
	}
	verifier := "custom-user-verifier-0123456789-0123456789-0123"
	a := defaultParams(verifier)
	q := signIn(t, p, a, "dana")
	_, tok := exchange(t, p, q.Get("code"), verifier)
	c := verifyIDToken(t, p, devidp.DefaultClientID, tok["id_token"].(string), a.nonce)
	if c.Subject != "sub-dana" || c.Email != "dana@example.com" {
		t.Errorf("sub %q email %q, want sub-dana dana@example.com", c.Subject, c.Email)
	}
}

func TestClose(t *testing.T) {
	p, err := devidp.Start(devidp.Options{})
	if err != nil {
		t.Fatal(err)
	}
	addr := strings.Replace(strings.TrimPrefix(p.Issuer(), "http://"), "localhost", "127.0.0.1", 1)
	if err := p.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if conn, err := net.Dial("tcp", addr); err == nil {
		conn.Close()
		t.Errorf("dial %s after Close succeeded, want refused", addr)
	}
}
