package sessions

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/airlockci/airlock/internal/oidcjwt"
)

// login starts a browser sign-in: it makes a state, a nonce and a PKCE
// verifier, seals them with the provider, return_to and a deadline into
// the login cookie (which binds the attempt to this browser), and
// redirects to the provider. It stores nothing: anyone may call it.
func (s *Service) login(ctx context.Context, req Request, q url.Values) (Response, error) {
	providerID, err := single(q, "provider")
	if err != nil {
		return Response{}, err
	}
	p, ok := s.cfg.Provider(providerID)
	if !ok {
		return Response{}, errorf(400, "unknown provider %s; expected one of %s", oidcjwt.Quote(providerID), s.providerList())
	}
	returnTo, err := single(q, "return_to")
	if err != nil {
		return Response{}, err
	}
	if returnTo == "" {
		returnTo = "/"
	}
	if err := checkReturnTo(returnTo); err != nil {
		return Response{}, err
	}
	disc, err := s.discovery(ctx, p)
	if err != nil {
		return Response{}, err
	}
	if err := oidcjwt.CheckEndpoint(p.Issuer, "authorization_endpoint", disc.AuthorizationEndpoint); err != nil {
		return Response{}, errorf(502, "identity provider %s: %v", p.ID, err)
	}
	if len(disc.CodeChallengeMethods) > 0 && !contains(disc.CodeChallengeMethods, "S256") {
		return Response{}, errorf(502, "identity provider %s does not support PKCE with S256 (code_challenge_methods_supported %v); expected S256", p.ID, disc.CodeChallengeMethods)
	}

	key, err := s.sealKey()
	if err != nil {
		return Response{}, err
	}
	a := loginSeal{Provider: p.ID, State: randomString(32), Nonce: randomString(32), Verifier: randomString(32),
		ReturnTo: returnTo, Expires: s.now().Add(LoginTTL).UnixMilli()}
	sealed, err := seal(key, sealPurposeLogin, a)
	if err != nil {
		return Response{}, err
	}
	state, nonce, verifier := a.State, a.Nonce, a.Verifier

	au, _ := url.Parse(disc.AuthorizationEndpoint) // checked above
	aq := au.Query()
	aq.Set("response_type", "code")
	aq.Set("client_id", p.ClientID)
	aq.Set("redirect_uri", s.redirectURI())
	aq.Set("scope", strings.Join(p.Scopes, " "))
	aq.Set("state", state)
	aq.Set("nonce", nonce)
	aq.Set("code_challenge", s256(verifier))
	aq.Set("code_challenge_method", "S256")
	au.RawQuery = aq.Encode()
	return Response{
		Status:    302,
		Header:    map[string]string{"location": au.String()},
		SetCookie: []string{loginCookieValue(sealed)},
	}, nil
}

func (s *Service) redirectURI() string { return s.cfg.PublicURL + "/auth/callback" }

func (s *Service) providerList() string {
	ids := make([]string, len(s.cfg.Providers))
	for i, p := range s.cfg.Providers {
		ids[i] = p.ID
	}
	return strings.Join(ids, ", ")
}

func (s *Service) discovery(ctx context.Context, p *Provider) (*oidcjwt.Discovery, error) {
	d, err := s.issuers.Discovery(ctx, p.Issuer, s.now())
	if err != nil {
		return nil, errorf(502, "identity provider %s is unavailable: %v", p.ID, err)
	}
	return d, nil
}

func s256(verifier string) string {
	h := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(h[:])
}

// single is a query parameter given at most once.
func single(q url.Values, name string) (string, error) {
	vs := q[name]
	if len(vs) > 1 {
		return "", errorf(400, "query parameter %s is given %d times; expected once", name, len(vs))
	}
	if len(vs) == 0 {
		return "", nil
	}
	return vs[0], nil
}

// checkReturnTo accepts only a path on our own origin: a single leading
// slash (not //, not /\, which browsers read as another host), printable
// ASCII without quotes, angle brackets or backslashes, no scheme or host.
func checkReturnTo(s string) error {
	bad := func(why string) error {
		return errorf(400, "return_to %s %s; expected a path on this site such as /runs/42", oidcjwt.Quote(s), why)
	}
	if len(s) > 2048 {
		return bad("is too long")
	}
	if !strings.HasPrefix(s, "/") {
		return bad("does not start with /")
	}
	if len(s) > 1 && (s[1] == '/' || s[1] == '\\') {
		return bad("starts with // or /\\, which is another site")
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("\\\"'<>`", c) >= 0 {
			return bad(fmt.Sprintf("has the character %q", c))
		}
	}
	u, err := url.Parse(s)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil {
		return bad("is not a relative path")
	}
	return nil
}

// callback finishes a browser sign-in. The attempt comes back sealed in
// the login cookie; it must open under our key, be in time and carry the
// state the provider echoed (so a stranger's state, or another tab's
// cookie, changes nothing). Nothing is written until the provider has
// issued tokens for this attempt and they verified: only then is the
// state recorded as used, in the transaction that creates the session, so
// a replay or a concurrent copy of the callback makes no second session.
func (s *Service) callback(ctx context.Context, req Request, q url.Values) (Response, error) {
	for _, name := range []string{"state", "code", "iss", "error", "error_description"} {
		if _, err := single(q, name); err != nil {
			return Response{}, err
		}
	}
	state := q.Get("state")
	if state == "" {
		return Response{}, errorf(400, "the sign-in answer has no state; start again from the sign-in page")
	}
	sealed, err := singleCookie(req.Header["cookie"], LoginCookie)
	if err != nil {
		return Response{}, errorf(400, "%v", err)
	}
	if sealed == "" {
		return Response{}, errorf(400, "no sign-in cookie: this browser did not start this sign-in, or it blocks cookies; start again from the sign-in page")
	}
	notOurs := errorf(400, "the sign-in cookie does not belong to this sign-in (state): it was started in another browser or tab, or before the sign-in key changed; start again from the sign-in page")
	key, err := s.sealKey()
	if err != nil {
		return Response{}, err
	}
	var a loginSeal
	if err := unseal(key, sealPurposeLogin, sealed, &a); err != nil {
		return Response{}, notOurs
	}
	now := s.now()
	if now.UnixMilli() >= a.Expires {
		return Response{}, errorf(400, "the sign-in took longer than %s; start again from the sign-in page", LoginTTL)
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(a.State)) != 1 {
		return Response{}, notOurs
	}
	used := errorf(400, "unknown or already used sign-in (state); start again from the sign-in page")
	stateKey := hashKey(a.State)
	var seen bool
	if err := s.tx(func() error {
		seen = len(s.exec(`SELECT 1 FROM used_logins WHERE state_hash = ?`, stateKey)) > 0
		return nil
	}); err != nil {
		return Response{}, err
	}
	if seen {
		return Response{}, used
	}
	p, ok := s.cfg.Provider(a.Provider)
	if !ok {
		return Response{}, errorf(400, "identity provider %s is no longer configured; start again from the sign-in page", oidcjwt.Quote(a.Provider))
	}
	// RFC 9207: the issuer that answered must be the one we sent the user
	// to (mix-up defence when several providers are configured).
	if iss, sent := q["iss"]; sent && iss[0] != p.Issuer {
		return Response{}, errorf(400, "the sign-in answer names issuer %s but was started with %s (%s); start again from the sign-in page", oidcjwt.Quote(iss[0]), p.Name, oidcjwt.Quote(p.Issuer))
	}
	if code := q.Get("error"); code != "" {
		status := 400
		if code == "access_denied" {
			status = 403
		}
		return Response{}, errorf(status, "%s refused the sign-in: %s%s", p.Name, oidcjwt.Quote(code), describe(q.Get("error_description")))
	}
	disc, err := s.discovery(ctx, p)
	if err != nil {
		return Response{}, err
	}
	if _, sent := q["iss"]; !sent && disc.AuthorizationResponseIssParameterSupported {
		return Response{}, errorf(400, "the sign-in answer has no iss although %s always sends it; start again from the sign-in page", p.Name)
	}
	code := q.Get("code")
	if code == "" {
		return Response{}, errorf(400, "the sign-in answer has no code; start again from the sign-in page")
	}
	form := url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {s.redirectURI()},
		"code_verifier": {a.Verifier},
	}
	tokens, err := s.tokenRequest(ctx, p, disc, form)
	if err != nil {
		return Response{}, err
	}
	u, err := s.verifyIDToken(ctx, p, tokens, a.Nonce)
	if err != nil {
		return Response{}, err
	}

	var token string
	err = s.tx(func() error {
		// The first to record the state wins; a concurrent copy of this
		// callback that also got tokens (from a provider that redeems a
		// code twice) is refused here and creates nothing.
		if len(s.exec(`INSERT INTO used_logins (state_hash, expires_ms) VALUES (?, ?) ON CONFLICT (state_hash) DO NOTHING RETURNING 1`, stateKey, a.Expires)) == 0 {
			return used
		}
		// A session cookie the browser already had is replaced, never
		// reused (fixation); if it was a live session, it ends.
		if old, err := singleCookie(req.Header["cookie"], SessionCookie); err == nil && old != "" {
			if id, secret, err := parseToken(old); err == nil {
				if rows := s.exec(`SELECT secret_hash FROM sessions WHERE id = ? AND kind = ?`, id, KindBrowser); len(rows) == 1 && secretMatches(secret, asBytes(rows[0][0])) {
					s.exec(`DELETE FROM sessions WHERE id = ?`, id)
				}
			}
		}
		token, _ = s.signIn(u, KindBrowser, req.Header["user-agent"], now)
		return nil
	})
	if err != nil {
		return Response{}, err
	}
	return signedInPage(a.ReturnTo, token, int64(s.cfg.AbsoluteLifetime/time.Second)), nil
}

// signedInPage answers the callback with 200 and a page that continues to
// returnTo, not with a redirect. The callback request is the last hop of a
// navigation that started on the identity provider's site, so the browser
// treats it, and any redirect it answers with, as cross-site: a
// SameSite=Strict cookie set here would not be sent on the redirected
// request, the dashboard would see no session and send the user back to
// sign in, in a loop. The page's own navigation (meta refresh, or the
// link) starts on our origin, so the Strict cookie goes with it.
func signedInPage(returnTo, token string, maxAge int64) Response {
	esc := html.EscapeString(returnTo)
	page := "<!doctype html>\n<html lang=en><meta charset=utf-8>\n<meta http-equiv=\"refresh\" content=\"0;url=" + esc + "\">\n<title>Signed in</title>\n<p>Signed in. <a href=\"" + esc + "\">Continue</a></p>\n</html>\n"
	return Response{
		Status:    200,
		Header:    map[string]string{"content-type": "text/html; charset=utf-8"},
		SetCookie: []string{sessionCookie(token, maxAge), clearLoginCookie()},
		Body:      []byte(page),
	}
}

func describe(desc string) string {
	if desc == "" {
		return ""
	}
	return " (" + oidcjwt.Quote(desc) + ")"
}

// providerError is an OAuth error answer from a token or device endpoint.
type providerError struct {
	Code, Description string
}

func (e *providerError) Error() string { return e.Code + describe(e.Description) }

// postForm posts form to one of p's endpoints (authenticating the client
// with client_secret_basic when it has a secret) and decodes the JSON
// answer. An OAuth error answer is a *providerError; anything else that
// is not a 200 JSON object is a 502.
func (s *Service) postForm(ctx context.Context, p *Provider, name, endpoint string, form url.Values) (map[string]json.RawMessage, error) {
	if err := oidcjwt.CheckEndpoint(p.Issuer, name, endpoint); err != nil {
		return nil, errorf(502, "identity provider %s: %v", p.ID, err)
	}
	header := map[string][]string{
		"Content-Type": {"application/x-www-form-urlencoded"},
		"Accept":       {"application/json"},
	}
	if p.ClientSecretEnv != "" {
		// RFC 6749 §2.3.1: both parts form-encoded before base64.
		cred := url.QueryEscape(p.ClientID) + ":" + url.QueryEscape(s.secret(p.ClientSecretEnv))
		header["Authorization"] = []string{"Basic " + base64.StdEncoding.EncodeToString([]byte(cred))}
	} else {
		form.Set("client_id", p.ClientID)
	}
	resp, err := s.fetch.Fetch(ctx, oidcjwt.HTTPRequest{Method: "POST", URL: endpoint, Header: header, Body: []byte(form.Encode())})
	if err != nil {
		return nil, errorf(502, "identity provider %s: calling its %s: %v", p.ID, name, err)
	}
	if len(resp.Body) > maxProviderResponse {
		return nil, errorf(502, "identity provider %s: its %s answered %d bytes or more; expected at most %d", p.ID, name, len(resp.Body), maxProviderResponse)
	}
	mt, _, _ := mime.ParseMediaType(oidcjwt.HeaderValue(resp.Header, "Content-Type"))
	var body map[string]json.RawMessage
	jsonOK := mt == "application/json" && oidcjwt.CheckJSON(resp.Body) == nil && json.Unmarshal(resp.Body, &body) == nil && body != nil
	if !jsonOK {
		return nil, errorf(502, "identity provider %s: its %s answered %d with %s; expected a JSON object", p.ID, name, resp.Status, oidcjwt.Quote(oidcjwt.HeaderValue(resp.Header, "Content-Type")))
	}
	if resp.Status != 200 {
		var e struct {
			Code        string `json:"error"`
			Description string `json:"error_description"`
		}
		raw, _ := json.Marshal(body)
		if json.Unmarshal(raw, &e) == nil && e.Code != "" && (resp.Status == 400 || resp.Status == 401 || resp.Status == 403) {
			return nil, &providerError{Code: truncate(e.Code, 64), Description: truncate(e.Description, 256)}
		}
		return nil, errorf(502, "identity provider %s: its %s answered %d; expected 200 (redirects are not followed)", p.ID, name, resp.Status)
	}
	return body, nil
}

// tokenRequest exchanges a grant at the token endpoint.
func (s *Service) tokenRequest(ctx context.Context, p *Provider, disc *oidcjwt.Discovery, form url.Values) (map[string]json.RawMessage, error) {
	body, err := s.postForm(ctx, p, "token_endpoint", disc.TokenEndpoint, form)
	var pe *providerError
	if errors.As(err, &pe) {
		return nil, errorf(400, "%s refused the sign-in at its token endpoint: %s; start again from the sign-in page", p.Name, pe)
	}
	return body, err
}

// verifyIDToken checks the ID token in a token response with the shared
// verifier (issuer exactly p's, aud holding our client_id, signature
// against p's keys, exp/iat/nbf) plus OIDC's own rules (azp, nonce) and
// maps it to a user under p's rules. nonce is "" in the device flow,
// which has none.
func (s *Service) verifyIDToken(ctx context.Context, p *Provider, tokens map[string]json.RawMessage, nonce string) (user, error) {
	var raw string
	if json.Unmarshal(tokens["id_token"], &raw) != nil || raw == "" {
		return user{}, errorf(502, "identity provider %s answered without an id_token; expected one (is openid among the scopes?)", p.ID)
	}
	now := s.now()
	t, err := s.issuers.Verify(ctx, raw, p.Issuer, now, oidcjwt.Expect{Audience: p.ClientID, MaxLifetime: MaxIDTokenLifetime})
	if err != nil {
		if errors.Is(err, oidcjwt.ErrUnavailable) {
			return user{}, errorf(502, "identity provider %s is unavailable: %v", p.ID, err)
		}
		return user{}, errorf(400, "the ID token from %s is not valid: %v", p.Name, err)
	}
	azp, hasAZP := t.String("azp")
	if (len(t.Audiences) > 1 || hasAZP) && azp != p.ClientID {
		return user{}, errorf(400, "the ID token from %s was issued to %s (azp); expected our client %s", p.Name, oidcjwt.Quote(azp), oidcjwt.Quote(p.ClientID))
	}
	if nonce != "" {
		got, _ := t.String("nonce")
		if subtle.ConstantTimeCompare([]byte(got), []byte(nonce)) != 1 {
			return user{}, errorf(400, "the ID token from %s does not carry this sign-in's nonce; start again from the sign-in page", p.Name)
		}
	}
	email, _ := t.String("email")
	name, _ := t.String("name")
	if name == "" {
		name, _ = t.String("preferred_username")
	}
	u := user{
		id: p.ID + "#" + t.Subject, provider: p.ID, subject: t.Subject,
		email: strings.ToLower(email), verified: t.Bool("email_verified"), name: truncate(name, 256),
		groups: t.Strings(p.GroupsClaim),
	}
	if len(u.groups) > 1000 {
		u.groups = u.groups[:1000]
	}
	role, allowed := s.classify(p.ID, u.email, u.verified, u.groups)
	if !allowed {
		who := u.email
		if who == "" {
			who = "user " + oidcjwt.Quote(t.Subject)
		}
		why := ""
		if len(p.Allow.EmailDomains) > 0 && u.email != "" && !u.verified {
			why = " (the provider has not verified the email address)"
		}
		return user{}, errorf(403, "%s may not sign in to Airlock through %s%s; ask an administrator to allow your email domain or group", who, p.Name, why)
	}
	u.role = role
	return u, nil
}

// logout ends the current session (browser or CLI) and tells the browser
// to drop its cookies. Signing out without a valid session still clears
// them; the CSRF rules still apply.
//
// Every logout that is not a bearer (CLI) one must prove it comes from our
// own origin, whether or not the session cookie came along: a cross-site
// form POST from a browser without Fetch Metadata carries no Strict
// cookie, so Authorize's CSRF rule for cookie requests would not apply,
// and the answer's Clear-Site-Data would still wipe this site's cookies
// and storage in the victim's browser. A bearer logout cannot be sent
// cross-origin without a CORS preflight, which is never granted.
func (s *Service) logout(req Request) (Response, error) {
	if cookie, _ := singleCookie(req.Header["cookie"], SessionCookie); req.Header["authorization"] == "" || cookie != "" {
		if err := s.checkSameOrigin(req); err != nil {
			return Response{}, err
		}
	}
	p, err := s.Authorize(req)
	var he *httpError
	if err != nil && !(errors.As(err, &he) && he.Status == 401) {
		return Response{}, err
	}
	if p != nil {
		if err := s.tx(func() error {
			s.exec(`DELETE FROM sessions WHERE id = ?`, p.SessionID)
			return nil
		}); err != nil {
			return Response{}, err
		}
	}
	return Response{
		Status:    204,
		Header:    map[string]string{"clear-site-data": `"cookies", "storage"`},
		SetCookie: []string{clearSessionCookie()},
	}, nil
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
