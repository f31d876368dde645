package sessions_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// idp is an in-test OpenID provider for what a real one never does on
// request: ID tokens with a wrong nonce, another issuer, a bad signature.
// Everything else it does like a real provider: it checks the client, the
// redirect_uri and PKCE (S256(code_verifier) == code_challenge) at its
// token endpoint, redeems a code once, and runs the device flow.
type idp struct {
	t        *testing.T
	srv      *httptest.Server
	key      *rsa.PrivateKey
	kid      string
	clientID string
	secret   string // "" for a public client
	now      func() time.Time

	mu sync.Mutex
	// user is who signs in at /authorize (auto-approved).
	user      idpUser
	sendIss   bool // RFC 9207 iss in authorization responses
	advertIss bool // authorization_response_iss_parameter_supported
	// tamper edits the ID token's claims before signing; mint replaces
	// the whole ID token.
	tamper     func(claims map[string]any)
	mint       func(claims map[string]any) string
	codes      map[string]*grant
	devices    map[string]*deviceGrant // by device_code
	tokenCalls int
	// block, when set, is waited on by the token endpoint, which first
	// sends on entered.
	block, entered chan struct{}
	// multiUse makes the provider careless: a code, or an approved device
	// code, yields tokens every time it is redeemed, so that the tests
	// see the edge's own replay defence.
	multiUse bool
	// slowDown answers every device poll with slow_down.
	slowDown bool
}

type idpUser struct {
	Sub, Email, Name string
	Verified         bool
	Groups           []string
}

type grant struct {
	user                                  idpUser
	redirectURI, challenge, method, nonce string
	used                                  bool
}

type deviceGrant struct {
	userCode string
	user     *idpUser
	denied   bool
}

func startIDP(t *testing.T, clientID, secret string, now func() time.Time) *idp {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	p := &idp{t: t, key: key, kid: randHex(4), clientID: clientID, secret: secret, now: now, sendIss: true,
		codes: map[string]*grant{}, devices: map[string]*deviceGrant{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", p.discovery)
	mux.HandleFunc("GET /keys", p.jwks)
	mux.HandleFunc("GET /authorize", p.authorize)
	mux.HandleFunc("POST /token", p.token)
	mux.HandleFunc("POST /device", p.deviceAuthorization)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

func (p *idp) issuer() string { return p.srv.URL }

func (p *idp) setUser(u idpUser) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.user = u
}

func (p *idp) set(fn func(p *idp)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fn(p)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (p *idp) discovery(w http.ResponseWriter, _ *http.Request) {
	p.mu.Lock()
	advert := p.advertIss
	p.mu.Unlock()
	writeJSON(w, 200, map[string]any{
		"issuer":                           p.issuer(),
		"jwks_uri":                         p.issuer() + "/keys",
		"authorization_endpoint":           p.issuer() + "/authorize",
		"token_endpoint":                   p.issuer() + "/token",
		"device_authorization_endpoint":    p.issuer() + "/device",
		"code_challenge_methods_supported": []string{"S256"},
		"response_types_supported":         []string{"code"},
		"authorization_response_iss_parameter_supported": advert,
	})
}

func (p *idp) jwks(w http.ResponseWriter, _ *http.Request) {
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: p.kid, Algorithm: "RS256", Use: "sig"}}}
	writeJSON(w, 200, set)
}

// authorize signs the configured user in at once and redirects back.
func (p *idp) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != p.clientID || q.Get("response_type") != "code" || q.Get("code_challenge") == "" {
		http.Error(w, "bad authorization request", 400)
		return
	}
	code := randHex(16)
	p.mu.Lock()
	p.codes[code] = &grant{user: p.user, redirectURI: q.Get("redirect_uri"), challenge: q.Get("code_challenge"), method: q.Get("code_challenge_method"), nonce: q.Get("nonce")}
	sendIss := p.sendIss
	p.mu.Unlock()
	back, _ := url.Parse(q.Get("redirect_uri"))
	bq := url.Values{"code": {code}, "state": {q.Get("state")}}
	if sendIss {
		bq.Set("iss", p.issuer())
	}
	back.RawQuery = bq.Encode()
	http.Redirect(w, r, back.String(), http.StatusFound)
}

func (p *idp) clientOK(r *http.Request) bool {
	id, secret, basic := r.BasicAuth()
	if p.secret != "" {
		id, _ = url.QueryUnescape(id)
		secret, _ = url.QueryUnescape(secret)
		return basic && id == p.clientID && secret == p.secret
	}
	return !basic && r.PostForm.Get("client_id") == p.clientID
}

func (p *idp) token(w http.ResponseWriter, r *http.Request) {
	p.mu.Lock()
	p.tokenCalls++
	block, entered := p.block, p.entered
	p.mu.Unlock()
	if block != nil {
		entered <- struct{}{}
		<-block
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, 400, map[string]string{"error": "invalid_request"})
		return
	}
	if !p.clientOK(r) {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		g, ok := p.codes[r.PostForm.Get("code")]
		if !ok || g.used {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "unknown or used code"})
			return
		}
		g.used = !p.multiUse
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if g.method != "S256" || base64.RawURLEncoding.EncodeToString(sum[:]) != g.challenge {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "PKCE verification failed"})
			return
		}
		if r.PostForm.Get("redirect_uri") != g.redirectURI {
			writeJSON(w, 400, map[string]string{"error": "invalid_grant", "error_description": "redirect_uri mismatch"})
			return
		}
		writeJSON(w, 200, map[string]any{"access_token": randHex(16), "token_type": "Bearer", "expires_in": 300, "id_token": p.idToken(g.user, g.nonce)})
	case "urn:ietf:params:oauth:grant-type:device_code":
		d, ok := p.devices[r.PostForm.Get("device_code")]
		switch {
		case !ok:
			writeJSON(w, 400, map[string]string{"error": "invalid_grant"})
		case p.slowDown:
			writeJSON(w, 400, map[string]string{"error": "slow_down"})
		case d.denied:
			delete(p.devices, r.PostForm.Get("device_code"))
			writeJSON(w, 400, map[string]string{"error": "access_denied"})
		case d.user == nil:
			writeJSON(w, 400, map[string]string{"error": "authorization_pending"})
		default:
			if !p.multiUse {
				delete(p.devices, r.PostForm.Get("device_code"))
			}
			writeJSON(w, 200, map[string]any{"access_token": randHex(16), "token_type": "Bearer", "expires_in": 300, "id_token": p.idToken(*d.user, "")})
		}
	default:
		writeJSON(w, 400, map[string]string{"error": "unsupported_grant_type"})
	}
}

func (p *idp) deviceAuthorization(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil || !p.clientOK(r) {
		writeJSON(w, 401, map[string]string{"error": "invalid_client"})
		return
	}
	code, user := randHex(16), fmt.Sprintf("%s-%s", randHex(2), randHex(2))
	p.mu.Lock()
	p.devices[code] = &deviceGrant{userCode: user}
	p.mu.Unlock()
	writeJSON(w, 200, map[string]any{"device_code": code, "user_code": user, "verification_uri": p.issuer() + "/activate",
		"verification_uri_complete": p.issuer() + "/activate?user_code=" + user, "expires_in": 600, "interval": 5})
}

// approve signs u in for the device request with userCode.
func (p *idp) approve(userCode string, u idpUser) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, d := range p.devices {
		if d.userCode == userCode {
			d.user = &u
			return
		}
	}
	p.t.Fatalf("no device request with user code %s", userCode)
}

// idToken mints an ID token; p.mu is held.
func (p *idp) idToken(u idpUser, nonce string) string {
	now := p.now()
	claims := map[string]any{
		"iss": p.issuer(), "sub": u.Sub, "aud": p.clientID, "azp": p.clientID,
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"email": u.Email, "email_verified": u.Verified, "name": u.Name, "groups": u.Groups,
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	if p.tamper != nil {
		p.tamper(claims)
	}
	if p.mint != nil {
		return p.mint(claims)
	}
	return signRS256(p.t, p.key, p.kid, claims)
}

func signRS256(t *testing.T, key *rsa.PrivateKey, kid string, claims map[string]any) string {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, (&jose.SignerOptions{}).WithHeader("kid", kid).WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := signer.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	s, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return s
}
