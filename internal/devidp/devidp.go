package devidp

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// DefaultClientID is the client registered when Options.Clients is empty.
const DefaultClientID = "airlock"

// ScopeGroups is the scope that adds the "groups" claim to ID tokens and
// userinfo.
const ScopeGroups = "groups"

// GrantType is an OAuth 2.0 grant a client may use.
type GrantType string

// The grants a client can be given.
const (
	// GrantAuthorizationCode is the authorization code flow, always with
	// PKCE S256.
	GrantAuthorizationCode GrantType = "authorization_code"
	// GrantDeviceCode is the device authorization grant (RFC 8628).
	GrantDeviceCode GrantType = "urn:ietf:params:oauth:grant-type:device_code"
)

// Client is a registered OAuth client (relying party).
type Client struct {
	// ID is the client_id.
	ID string
	// Secret, when set, makes this a confidential client that
	// authenticates at the token endpoint with client_secret_basic.
	// Empty means a public client (token_endpoint_auth_method "none").
	Secret string
	// RedirectURIs are compared with the request's redirect_uri by exact
	// string match: no port wildcard for loopback, no globs.
	RedirectURIs []string
	// GrantTypes the client may use; empty means GrantAuthorizationCode.
	GrantTypes []GrantType
}

// User is an account that can sign in.
type User struct {
	// Username is what the login form asks for, and the
	// preferred_username claim.
	Username string
	// Password defaults to Username + "-password".
	Password string
	// Subject is the "sub" claim; default a stable value derived from
	// Username (the same on every start), see SubjectFor.
	Subject       string
	Email         string
	EmailVerified bool
	// Name is the "name" claim.
	Name string
	// Groups is the "groups" claim (scope "groups").
	Groups []string
}

// Options configures Start. The zero value is a working provider with the
// default client and users.
type Options struct {
	// Port to listen on at 127.0.0.1; 0 picks a free one.
	Port int
	// Issuer is the issuer identifier; default "http://localhost:<port>"
	// (see the package comment for why not 127.0.0.1). When set it is used
	// as is, so it must reach this listener (set Port to match, or put a
	// proxy in front). It must have no path: the endpoints are served at
	// the root.
	Issuer string
	// Clients; empty means one public client DefaultClientID with the
	// authorization code and device grants and RedirectURIs as its
	// redirect URIs.
	Clients []Client
	// RedirectURIs of the default client; ignored when Clients is set.
	RedirectURIs []string
	// Users; empty means DefaultUsers().
	Users []User
	// IDTokenLifetime is how long ID and access tokens are valid;
	// default 5 minutes.
	IDTokenLifetime time.Duration
	// DevicePollInterval is the "interval" of device authorization
	// responses; default 1 s (RFC 8628's default of 5 s slows tests).
	DevicePollInterval time.Duration
}

// DefaultUsers returns the users a provider has when Options.Users is
// empty; see the package comment.
func DefaultUsers() []User {
	return []User{
		{Username: "alice", Email: "alice@example.com", EmailVerified: true, Name: "Alice Admin", Groups: []string{"airlock-admins", "eng"}},
		{Username: "bob", Email: "bob@example.com", EmailVerified: true, Name: "Bob Builder", Groups: []string{"eng"}},
		{Username: "mallory", Email: "mallory@evil.example", EmailVerified: true, Name: "Mallory", Groups: []string{}},
		{Username: "unverified", Email: "carol@example.com", EmailVerified: false, Name: "Carol Unverified", Groups: []string{}},
	}
}

// DefaultPassword is a user's password when Options.Users gives none
// (development only).
func DefaultPassword(username string) string { return username + "-password" }

// SubjectFor is the default "sub" of a user: an opaque value derived from
// the username, so that it is stable across restarts but is not the
// username (code that keys accounts on preferred_username shows up).
func SubjectFor(username string) string {
	sum := sha256.Sum256([]byte("airlock-devidp-sub:" + username))
	return hex.EncodeToString(sum[:10])
}

// Errors of ApproveDevice and DenyDevice.
var (
	// ErrUnknownUserCode: no pending device authorization has this user
	// code (never issued, expired, or already approved or denied).
	ErrUnknownUserCode = errors.New("devidp: unknown or expired user code")
	// ErrUnknownUser: no user has this username.
	ErrUnknownUser = errors.New("devidp: unknown user")
)

// Provider is a running OpenID provider. Its methods are safe for
// concurrent use.
type Provider struct {
	issuer  string
	store   *storage
	op      *op.Provider
	srv     *http.Server
	served  chan struct{}
	closeMu sync.Once
	err     error
}

// Start listens on 127.0.0.1 and serves the provider until Close.
func Start(opts Options) (*Provider, error) {
	clients, err := buildClients(opts)
	if err != nil {
		return nil, err
	}
	users, err := buildUsers(opts.Users)
	if err != nil {
		return nil, err
	}
	lifetime := opts.IDTokenLifetime
	if lifetime <= 0 {
		lifetime = 5 * time.Minute
	}
	poll := opts.DevicePollInterval
	if poll <= 0 {
		poll = time.Second
	}

	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(opts.Port)))
	if err != nil {
		return nil, fmt.Errorf("devidp: listen: %w", err)
	}
	issuer := opts.Issuer
	if issuer == "" {
		issuer = "http://localhost:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	}
	if err := checkIssuer(issuer); err != nil {
		ln.Close()
		return nil, err
	}
	issuer = strings.TrimSuffix(issuer, "/")

	store, err := newStorage(issuer, clients, users, lifetime)
	if err != nil {
		ln.Close()
		return nil, err
	}
	var cryptoKey [32]byte
	if _, err := rand.Read(cryptoKey[:]); err != nil {
		ln.Close()
		return nil, fmt.Errorf("devidp: access token key: %w", err)
	}
	config := &op.Config{
		CryptoKey:          cryptoKey,
		CodeMethodS256:     true,
		SupportedUILocales: []language.Tag{language.English},
		SupportedScopes:    []string{oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, ScopeGroups},
		SupportedClaims: []string{
			"sub", "aud", "exp", "iat", "iss", "auth_time", "nonce", "amr", "azp", "at_hash", "c_hash",
			"email", "email_verified", "name", "preferred_username", ScopeGroups,
		},
		DeviceAuthorization: op.DeviceAuthorizationConfig{
			Lifetime:     deviceLifetime,
			PollInterval: poll,
			UserFormPath: devicePath,
			UserCode:     op.UserCodeBase20,
		},
	}
	provider, err := op.NewProvider(config, store, op.StaticIssuer(issuer), op.WithAllowInsecure())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("devidp: %w", err)
	}

	p := &Provider{issuer: issuer, store: store, op: provider, served: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc(loginPath, p.serveLogin)
	mux.HandleFunc(devicePath, p.serveDevice)
	mux.HandleFunc(oidc.DiscoveryEndpoint, p.serveDiscovery)
	mux.Handle("/", addIssToAuthorizationResponses(issuer, provider))
	p.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		defer close(p.served)
		if err := p.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.err = err
		}
	}()
	return p, nil
}

// Issuer is the issuer identifier, e.g. "http://localhost:41234".
func (p *Provider) Issuer() string { return p.issuer }

// Close stops the server, closing open connections, and returns once it
// has stopped.
func (p *Provider) Close() error {
	var err error
	p.closeMu.Do(func() {
		err = p.srv.Close()
		<-p.served
		if err == nil {
			err = p.err
		}
	})
	return err
}

// ApproveDevice approves the pending device authorization with userCode
// as username, exactly as if that user had signed in on the /device page
// and pressed Approve, but without a password. It is a development
// convenience for tests and `make demo` to sign a CLI in without a
// person. The user code is matched ignoring case, spaces and dashes.
func (p *Provider) ApproveDevice(userCode, username string) error {
	u, ok := p.store.user(username)
	if !ok {
		return fmt.Errorf("%w %q", ErrUnknownUser, username)
	}
	return p.store.decideDevice(userCode, u.Subject, true)
}

// DenyDevice denies the pending device authorization with userCode; the
// device's next token request answers access_denied.
func (p *Provider) DenyDevice(userCode string) error {
	return p.store.decideDevice(userCode, "", false)
}

func buildClients(opts Options) (map[string]*client, error) {
	cs := opts.Clients
	if len(cs) == 0 {
		cs = []Client{{
			ID:           DefaultClientID,
			RedirectURIs: opts.RedirectURIs,
			GrantTypes:   []GrantType{GrantAuthorizationCode, GrantDeviceCode},
		}}
	}
	out := make(map[string]*client, len(cs))
	for i, c := range cs {
		if c.ID == "" {
			return nil, fmt.Errorf("devidp: Options.Clients[%d]: empty ID", i)
		}
		if _, dup := out[c.ID]; dup {
			return nil, fmt.Errorf("devidp: Options.Clients[%d]: duplicate ID %q", i, c.ID)
		}
		grants := c.GrantTypes
		if len(grants) == 0 {
			grants = []GrantType{GrantAuthorizationCode}
		}
		for _, g := range grants {
			if g != GrantAuthorizationCode && g != GrantDeviceCode {
				return nil, fmt.Errorf("devidp: Options.Clients[%d] (%s): grant type %q is not supported, want %q or %q",
					i, c.ID, g, GrantAuthorizationCode, GrantDeviceCode)
			}
		}
		for _, u := range c.RedirectURIs {
			if pu, err := url.Parse(u); err != nil || !pu.IsAbs() || pu.Fragment != "" {
				return nil, fmt.Errorf("devidp: Options.Clients[%d] (%s): redirect URI %q: want an absolute URL without fragment", i, c.ID, u)
			}
		}
		cc := &client{id: c.ID, secret: c.Secret, redirectURIs: append([]string(nil), c.RedirectURIs...)}
		for _, g := range grants {
			cc.grants = append(cc.grants, oidc.GrantType(g))
		}
		out[c.ID] = cc
	}
	return out, nil
}

func buildUsers(us []User) (map[string]User, error) {
	if len(us) == 0 {
		us = DefaultUsers()
	}
	out := make(map[string]User, len(us))
	subs := map[string]bool{}
	for i, u := range us {
		if u.Username == "" {
			return nil, fmt.Errorf("devidp: Options.Users[%d]: empty Username", i)
		}
		if _, dup := out[u.Username]; dup {
			return nil, fmt.Errorf("devidp: Options.Users[%d]: duplicate Username %q", i, u.Username)
		}
		if u.Password == "" {
			u.Password = DefaultPassword(u.Username)
		}
		if u.Subject == "" {
			u.Subject = SubjectFor(u.Username)
		}
		if subs[u.Subject] {
			return nil, fmt.Errorf("devidp: Options.Users[%d] (%s): duplicate Subject %q", i, u.Username, u.Subject)
		}
		subs[u.Subject] = true
		u.Groups = append([]string{}, u.Groups...)
		out[u.Username] = u
	}
	return out, nil
}

func checkIssuer(issuer string) error {
	u, err := url.Parse(issuer)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("devidp: Options.Issuer %q: want an http(s) URL such as http://localhost:8080", issuer)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return fmt.Errorf("devidp: Options.Issuer %q: want no path, query or fragment (endpoints are served at the root)", issuer)
	}
	return nil
}
