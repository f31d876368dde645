package devidp

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// How long the pieces of a sign-in live. An auth request waits for a
// person to type a password; a code only has to survive one redirect.
const (
	authRequestTTL = 10 * time.Minute
	codeTTL        = time.Minute
	deviceLifetime = 5 * time.Minute
)

// storage is the provider's state, all in memory behind one mutex. It
// implements op.Storage and op.DeviceAuthorizationStorage. Values handed
// to zitadel are copies, so nothing zitadel reads changes under it.
type storage struct {
	issuer   string
	lifetime time.Duration
	clients  map[string]*client
	users    map[string]User // by username
	key      signingKey

	mu       sync.Mutex
	authReqs map[string]*authRequest // by ID
	codes    map[string]issuedCode   // by code
	tokens   map[string]accessToken  // by token ID
	devices  map[string]*device      // by device code
	userCode map[string]string       // normalised user code → device code
}

var (
	_ op.Storage                    = (*storage)(nil)
	_ op.DeviceAuthorizationStorage = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest  = (*storage)(nil)
	_ op.AuthRequest                = (*authRequest)(nil)
	_ op.Client                     = (*client)(nil)
)

var errNotFound = errors.New("devidp: not found")

func newStorage(issuer string, clients map[string]*client, users map[string]User, lifetime time.Duration) (*storage, error) {
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("devidp: signing key: %w", err)
	}
	for _, c := range clients {
		c.issuer = issuer
		c.lifetime = lifetime
	}
	return &storage{
		issuer:   issuer,
		lifetime: lifetime,
		clients:  clients,
		users:    users,
		key:      signingKey{id: "devidp-" + randomHex(6), priv: priv},
		authReqs: map[string]*authRequest{},
		codes:    map[string]issuedCode{},
		tokens:   map[string]accessToken{},
		devices:  map[string]*device{},
		userCode: map[string]string{},
	}, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// user returns the user with username.
func (s *storage) user(username string) (User, bool) {
	u, ok := s.users[username]
	return u, ok
}

// checkPassword returns the user if username and password match.
func (s *storage) checkPassword(username, password string) (User, bool) {
	u, ok := s.users[username]
	if !ok {
		return User{}, false
	}
	return u, subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) == 1
}

func (s *storage) userBySubject(sub string) (User, bool) {
	for _, u := range s.users {
		if u.Subject == sub {
			return u, true
		}
	}
	return User{}, false
}

// purge drops what has expired. Called with s.mu held, on every write, so
// memory stays bounded without a background goroutine.
func (s *storage) purge(now time.Time) {
	for id, r := range s.authReqs {
		if now.After(r.expires) {
			delete(s.authReqs, id)
		}
	}
	for c, ic := range s.codes {
		if now.After(ic.expires) {
			delete(s.codes, c)
		}
	}
	for id, t := range s.tokens {
		if now.After(t.expires) {
			delete(s.tokens, id)
		}
	}
	for dc, d := range s.devices {
		// Kept a little past expiry so that polling gets expired_token
		// rather than an unknown device code.
		if now.After(d.state.Expires.Add(time.Minute)) {
			delete(s.devices, dc)
			delete(s.userCode, d.userCode)
		}
	}
}

// ---- authorization code flow ----

type authRequest struct {
	id           string
	clientID     string
	redirectURI  string
	state        string
	nonce        string
	scopes       []string
	responseType oidc.ResponseType
	responseMode oidc.ResponseMode
	challenge    *oidc.CodeChallenge
	loginHint    string
	expires      time.Time

	subject  string // set on sign-in
	authTime time.Time
	done     bool
	code     string // set when the code is issued; one code per request
}

func (a *authRequest) GetID() string          { return a.id }
func (a *authRequest) GetACR() string         { return "" }
func (a *authRequest) GetAudience() []string  { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time { return a.authTime }
func (a *authRequest) GetClientID() string    { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge {
	return a.challenge
}
func (a *authRequest) GetNonce() string                   { return a.nonce }
func (a *authRequest) GetRedirectURI() string             { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode { return a.responseMode }
func (a *authRequest) GetScopes() []string                { return a.scopes }
func (a *authRequest) GetState() string                   { return a.state }
func (a *authRequest) GetSubject() string                 { return a.subject }
func (a *authRequest) Done() bool                         { return a.done }
func (a *authRequest) GetAMR() []string {
	if a.done {
		return []string{"pwd"}
	}
	return nil
}

func (a *authRequest) clone() *authRequest {
	c := *a
	c.scopes = slices.Clone(a.scopes)
	if a.challenge != nil {
		ch := *a.challenge
		c.challenge = &ch
	}
	return &c
}

type issuedCode struct {
	authRequestID string
	expires       time.Time
}

// CreateAuthRequest applies this provider's policy on top of zitadel's
// checks: redirect URIs match exactly, PKCE with S256 is mandatory, and
// prompt=none cannot succeed (there are no sessions to reuse).
func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c, ok := s.clients[req.ClientID]
	if !ok {
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("unknown client_id")
	}
	if !slices.Contains(c.redirectURIs, req.RedirectURI) {
		// An invalid_request_redirect_uri error is shown, never redirected.
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription(
			"redirect_uri is not registered for this client (exact match required)")
	}
	if req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge is required: this provider requires PKCE with S256")
	}
	if req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired().WithDescription("this provider keeps no sessions: prompt=none cannot succeed")
	}
	now := time.Now()
	r := &authRequest{
		id:           randomHex(16),
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		state:        req.State,
		nonce:        req.Nonce,
		scopes:       slices.Clone(req.Scopes),
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		challenge:    &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: req.CodeChallengeMethod},
		loginHint:    req.LoginHint,
		expires:      now.Add(authRequestTTL),
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(now)
	s.authReqs[r.id] = r
	return r.clone(), nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.authRequestLocked(id)
	if err != nil {
		return nil, err
	}
	return r.clone(), nil
}

func (s *storage) authRequestLocked(id string) (*authRequest, error) {
	r, ok := s.authReqs[id]
	if !ok || time.Now().After(r.expires) {
		return nil, fmt.Errorf("auth request %q: %w", id, errNotFound)
	}
	return r, nil
}

// pendingAuthRequest returns a copy of an auth request that still waits
// for a sign-in.
func (s *storage) pendingAuthRequest(id string) (*authRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.authRequestLocked(id)
	if err != nil {
		return nil, err
	}
	if r.done {
		return nil, fmt.Errorf("auth request %q: already signed in", id)
	}
	return r.clone(), nil
}

// completeAuthRequest records that subject signed in for auth request id.
func (s *storage) completeAuthRequest(id, subject string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.authRequestLocked(id)
	if err != nil {
		return err
	}
	if r.done {
		return fmt.Errorf("auth request %q: already signed in", id)
	}
	r.done, r.subject, r.authTime = true, subject, time.Now()
	return nil
}

// SaveAuthCode issues the one code an auth request ever gets: a second
// visit to the callback URL does not mint another.
func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, err := s.authRequestLocked(id)
	if err != nil {
		return err
	}
	if !r.done {
		return fmt.Errorf("auth request %q: not signed in", id)
	}
	if r.code != "" {
		return oidc.ErrInvalidRequest().WithDescription("an authorization code was already issued for this request")
	}
	r.code = code
	s.codes[code] = issuedCode{authRequestID: id, expires: time.Now().Add(codeTTL)}
	return nil
}

// AuthRequestByCode redeems code: the code is gone after the first call,
// whatever happens next, so a code works at most once even when two
// exchanges race, and a failed exchange (say a wrong code_verifier, which
// zitadel checks after this) burns it too.
func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ic, ok := s.codes[code]
	if !ok {
		return nil, fmt.Errorf("code: %w", errNotFound)
	}
	delete(s.codes, code)
	if time.Now().After(ic.expires) {
		return nil, errors.New("code expired")
	}
	r, err := s.authRequestLocked(ic.authRequestID)
	if err != nil {
		return nil, err
	}
	if !r.done || r.code != code {
		return nil, errors.New("code does not belong to a completed sign-in")
	}
	return r.clone(), nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r, ok := s.authReqs[id]; ok {
		delete(s.codes, r.code)
		delete(s.authReqs, id)
	}
	return nil
}

// ---- tokens ----

type accessToken struct {
	subject  string
	clientID string
	scopes   []string
	expires  time.Time
}

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	var clientID string
	switch r := req.(type) {
	case op.AuthRequest:
		clientID = r.GetClientID()
	case *op.DeviceAuthorizationState:
		clientID = r.ClientID
	default:
		return "", time.Time{}, oidc.ErrUnsupportedGrantType()
	}
	now := time.Now()
	id := randomHex(16)
	exp := now.Add(s.lifetime)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(now)
	s.tokens[id] = accessToken{subject: req.GetSubject(), clientID: clientID, scopes: slices.Clone(req.GetScopes()), expires: exp}
	return id, exp, nil
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithDescription("refresh tokens are not supported")
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, op.ErrInvalidRefreshToken
}

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// TerminateSession has nothing to end: the provider keeps no sessions.
func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) RevokeToken(_ context.Context, tokenID, userID, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.tokens[tokenID]
	if !ok {
		return nil // RFC 7009: an unknown token is not an error
	}
	if t.clientID != clientID {
		return oidc.ErrInvalidClient().WithDescription("token was issued to another client")
	}
	delete(s.tokens, tokenID)
	return nil
}

// ---- keys ----

type signingKey struct {
	id   string
	priv *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.priv }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct{ signingKey }

func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return &k.priv.PublicKey }

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) { return s.key, nil }

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{s.key}}, nil
}

// ---- clients ----

type client struct {
	id           string
	secret       string
	redirectURIs []string
	grants       []oidc.GrantType
	issuer       string
	lifetime     time.Duration
}

func (c *client) GetID() string                    { return c.id }
func (c *client) RedirectURIs() []string           { return c.redirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return nil }

// ApplicationType: zitadel treats "web" as confidential (it then demands
// client authentication at the device token endpoint), so a public
// client is a user agent.
func (c *client) ApplicationType() op.ApplicationType {
	if c.secret != "" {
		return op.ApplicationTypeWeb
	}
	return op.ApplicationTypeUserAgent
}

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.secret != "" {
		return oidc.AuthMethodBasic
	}
	return oidc.AuthMethodNone
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	if slices.Contains(c.grants, oidc.GrantTypeCode) {
		return []oidc.ResponseType{oidc.ResponseTypeCode}
	}
	return nil
}

func (c *client) GrantTypes() []oidc.GrantType { return c.grants }

func (c *client) LoginURL(authRequestID string) string {
	return c.issuer + loginPath + "?authRequestID=" + url.QueryEscape(authRequestID)
}

func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c *client) IDTokenLifetime() time.Duration      { return c.lifetime }

// DevMode lets zitadel accept http:// redirect URIs for public clients;
// CreateAuthRequest still requires them to match exactly.
func (c *client) DevMode() bool { return true }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) IsScopeAllowed(scope string) bool { return scope == ScopeGroups }

// IDTokenUserinfoClaimsAssertion puts the profile, email and groups claims
// in the ID token itself, not only at the userinfo endpoint.
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return true }
func (c *client) ClockSkew() time.Duration             { return 0 }

func (s *storage) GetClientByClientID(_ context.Context, clientID string) (op.Client, error) {
	c, ok := s.clients[clientID]
	if !ok {
		return nil, fmt.Errorf("client %q: %w", clientID, errNotFound)
	}
	return c, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, clientID, secret string) error {
	c, ok := s.clients[clientID]
	if !ok || c.secret == "" || subtle.ConstantTimeCompare([]byte(c.secret), []byte(secret)) != 1 {
		return errors.New("invalid client_id or client_secret")
	}
	return nil
}

// ---- claims ----

// SetUserinfoFromScopes is deprecated in zitadel in favour of
// SetUserinfoFromRequest, which does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return s.setUserinfo(info, req.GetSubject(), scopes)
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, subject, _ string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	s.mu.Unlock()
	if !ok || time.Now().After(t.expires) || t.subject != subject {
		return errors.New("invalid or expired access token")
	}
	return s.setUserinfo(info, t.subject, t.scopes)
}

// setUserinfo is the one place that maps scopes to claims; the package
// comment documents the mapping.
func (s *storage) setUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	u, ok := s.userBySubject(subject)
	if !ok {
		return fmt.Errorf("user %q: %w", subject, errNotFound)
	}
	info.Subject = u.Subject
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeEmail:
			info.Email = u.Email
			info.EmailVerified = oidc.Bool(u.EmailVerified)
			// Also as a plain claim: zitadel's field is omitempty, and a
			// false email_verified must be stated, not left out.
			info.AppendClaims("email_verified", u.EmailVerified)
		case oidc.ScopeProfile:
			info.Name = u.Name
			info.PreferredUsername = u.Username
		case ScopeGroups:
			info.AppendClaims(ScopeGroups, slices.Clone(u.Groups))
		}
	}
	return nil
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("devidp: token introspection is not supported")
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("devidp: private_key_jwt is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("devidp: the JWT profile grant is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// ---- device authorization grant ----

type device struct {
	userCode string // normalised
	state    op.DeviceAuthorizationState
}

// normaliseUserCode makes "bcdf-ghjk", "BCDF GHJK" and "BCDFGHJK" one code.
func normaliseUserCode(code string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r == '-' || r == ' ':
			return -1
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		}
		return r
	}, code)
}

func (s *storage) StoreDeviceAuthorization(_ context.Context, clientID, deviceCode, userCode string, expires time.Time, scopes []string) error {
	now := time.Now()
	uc := normaliseUserCode(userCode)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.purge(now)
	if _, dup := s.userCode[uc]; dup {
		return op.ErrDuplicateUserCode
	}
	if _, dup := s.devices[deviceCode]; dup {
		return errors.New("devidp: duplicate device code")
	}
	s.devices[deviceCode] = &device{userCode: uc, state: op.DeviceAuthorizationState{
		ClientID: clientID,
		Audience: []string{clientID},
		Scopes:   slices.Clone(scopes),
		Expires:  expires,
	}}
	s.userCode[uc] = deviceCode
	return nil
}

// GetDeviceAuthorizatonState answers the device's polling. Once approved
// or denied, the answer is given once and the authorization is gone, so a
// device code yields tokens at most once.
func (s *storage) GetDeviceAuthorizatonState(_ context.Context, clientID, deviceCode string) (*op.DeviceAuthorizationState, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d, ok := s.devices[deviceCode]
	if !ok || d.state.ClientID != clientID {
		return nil, fmt.Errorf("device code: %w", errNotFound)
	}
	st := d.state
	st.Scopes = slices.Clone(d.state.Scopes)
	st.Audience = slices.Clone(d.state.Audience)
	st.AMR = slices.Clone(d.state.AMR)
	if st.Done || st.Denied {
		delete(s.devices, deviceCode)
		delete(s.userCode, d.userCode)
	}
	return &st, nil
}

// pendingDevice reports whether userCode waits for a decision, and for
// which client.
func (s *storage) pendingDevice(userCode string) (clientID string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.pendingDeviceLocked(userCode)
	if d == nil {
		return "", false
	}
	return d.state.ClientID, true
}

func (s *storage) pendingDeviceLocked(userCode string) *device {
	dc, ok := s.userCode[normaliseUserCode(userCode)]
	if !ok {
		return nil
	}
	d := s.devices[dc]
	if d == nil || d.state.Done || d.state.Denied || time.Now().After(d.state.Expires) {
		return nil
	}
	return d
}

// decideDevice approves (as subject, authenticated by amr) or denies the
// pending authorization with userCode.
func (s *storage) decideDevice(userCode, subject string, approve bool, amr ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.pendingDeviceLocked(userCode)
	if d == nil {
		return fmt.Errorf("%w %q", ErrUnknownUserCode, userCode)
	}
	if !approve {
		d.state.Denied = true
		return nil
	}
	d.state.Done = true
	d.state.Subject = subject
	d.state.AuthTime = time.Now()
	d.state.AMR = amr
	return nil
}
