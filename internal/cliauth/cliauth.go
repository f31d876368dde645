// Package cliauth signs the airlock CLI in to a control plane and keeps its
// session token.
//
// Sign-in is the OAuth 2.0 device authorization flow (RFC 8628), mediated by
// the control plane so that it stays the only OAuth client: the CLI asks the
// control plane to start a device authorization with the chosen identity
// provider, shows the person the verification address and code, and polls
// the control plane until the person has approved. The control plane then
// verifies the ID token itself and hands the CLI a session token of kind
// "cli": stateful and revocable like a browser session, accepted only in the
// Authorization header (never as a cookie).
//
// The token is kept in a credentials file (one per user, mode 0600, written
// atomically) keyed by server URL. $AIRLOCK_TOKEN, when set, takes
// precedence, for scripts that get their token elsewhere.
package cliauth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// UserAgent is the User-Agent header of every request this package sends.
// The control plane records it when a sign-in creates a session, so that
// the Sessions page can tell a person's CLI sessions apart (which machine,
// which version). The airlock command sets it once, before any request,
// from its version; "" sends Go's default.
var UserAgent string

// NewUserAgent is the CLI's User-Agent:
// "airlock-cli/VERSION (HOSTNAME; GOOS/GOARCH)".
func NewUserAgent(version string) string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		return fmt.Sprintf("airlock-cli/%s (%s/%s)", version, runtime.GOOS, runtime.GOARCH)
	}
	return fmt.Sprintf("airlock-cli/%s (%s; %s/%s)", version, host, runtime.GOOS, runtime.GOARCH)
}

// Provider is an identity provider the control plane offers.
type Provider struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// Providers lists the control plane's sign-in providers.
func Providers(ctx context.Context, c *http.Client, server string) ([]Provider, error) {
	var out struct {
		Providers []Provider `json:"providers"`
	}
	if err := call(ctx, c, "GET", server, "/auth/providers", nil, &out); err != nil {
		return nil, err
	}
	return out.Providers, nil
}

// Device is a started device authorization: what the person must do.
type Device struct {
	// Request is the control plane's handle for this sign-in; it is a
	// secret of this CLI process (whoever holds it can claim the session).
	Request                 string `json:"device_request"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	Interval                int    `json:"interval"`
	ExpiresIn               int    `json:"expires_in"`

	server string
	client *http.Client
}

// User is whom a session belongs to.
type User struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	Name  string `json:"name"`
	Role  string `json:"role"`
}

// Session is what a completed sign-in returns.
type Session struct {
	Token   string `json:"token"`
	User    User   `json:"user"`
	Session struct {
		ID      string `json:"id"`
		Expires string `json:"expires"`
	} `json:"session"`
}

// Start begins a device sign-in with provider.
func Start(ctx context.Context, c *http.Client, server, provider string) (*Device, error) {
	d := &Device{server: server, client: c}
	if err := call(ctx, c, "POST", server, "/auth/device", map[string]string{"provider": provider}, d); err != nil {
		return nil, err
	}
	if d.Request == "" || d.UserCode == "" {
		return nil, fmt.Errorf("the control plane's device sign-in answer has no device_request or user_code")
	}
	return d, nil
}

// defaultPollFloor is the interval RFC 8628 prescribes when the server
// names none; pollFloor is a variable only so tests need not wait.
const defaultPollFloor = 5 * time.Second

var pollFloor = defaultPollFloor

// ErrDenied is returned by Wait when the person refused the sign-in.
var ErrDenied = errors.New("sign-in was denied at the identity provider")

// Wait polls until the person approved (or denied, or the code expired) and
// returns the new session.
func (d *Device) Wait(ctx context.Context) (*Session, error) {
	interval := time.Duration(d.Interval) * time.Second
	if interval <= 0 {
		interval = pollFloor
	}
	var deadline <-chan time.Time
	if d.ExpiresIn > 0 {
		t := time.NewTimer(time.Duration(d.ExpiresIn) * time.Second)
		defer t.Stop()
		deadline = t.C
	}
	for {
		var s Session
		err := call(ctx, d.client, "POST", d.server, "/auth/device/token", map[string]string{"device_request": d.Request}, &s)
		var ae *APIError
		switch {
		case err == nil:
			if s.Token == "" {
				return nil, errors.New("the control plane's sign-in answer has no token")
			}
			return &s, nil
		case errors.As(err, &ae) && ae.Code == "authorization_pending":
		case errors.As(err, &ae) && ae.Code == "slow_down":
			interval += pollFloor
		case errors.As(err, &ae) && ae.Code == "access_denied":
			return nil, ErrDenied
		default:
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-deadline:
			return nil, errors.New("the sign-in code expired before it was approved; run the sign-in again")
		case <-time.After(interval):
		}
	}
}

// Logout ends the session token stands for on the server. A session that
// has already ended (expired or revoked: HTTP 401) is not an error; it is
// what logging out wanted.
func Logout(ctx context.Context, c *http.Client, server, token string) error {
	err := callAuth(ctx, c, "POST", server, "/auth/logout", map[string]string{}, nil, token)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		return nil
	}
	return err
}

// Me asks the control plane whom token's session belongs to (GET /v1/me).
func Me(ctx context.Context, c *http.Client, server, token string) (*User, error) {
	var out struct {
		User User `json:"user"`
	}
	if err := callAuth(ctx, c, "GET", server, "/v1/me", nil, &out, token); err != nil {
		return nil, err
	}
	return &out.User, nil
}

// EndStored ends, on the server, the session whose token is stored for
// server, before a new sign-in takes its place in the file: overwriting the
// token alone would leave its session valid until it expired, listed on
// the Sessions page with nobody holding it. It is best effort: it returns
// whom the old session belonged to when the control plane still knew it
// ("" when no token was stored or its session had already ended), and an
// error only when the session could not be ended. It leaves the file as it
// is; the caller saves the new token. $AIRLOCK_TOKEN plays no part.
func (s Store) EndStored(ctx context.Context, c *http.Client, server string) (who string, err error) {
	f, err := s.load()
	if err != nil {
		return "", err
	}
	old := f.Servers[normalize(server)]
	if old == "" {
		return "", nil
	}
	if u, err := Me(ctx, c, server, old); err == nil {
		who = u.Email
	}
	if err := Logout(ctx, c, server, old); err != nil {
		return who, fmt.Errorf("ending the replaced session: %w", err)
	}
	return who, nil
}

// APIError is an error answer of the control plane.
type APIError struct {
	Status int
	// Code is the error field when it is a single OAuth-style word
	// (authorization_pending, slow_down, access_denied, expired_token).
	Code    string
	Message string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("%s (HTTP %d)", e.Message, e.Status)
}

// UnreachableError is a request the control plane never answered: the
// connection was refused, the name did not resolve, or it timed out. It
// names the server once (not every URL tried) and what to check.
type UnreachableError struct {
	// Server is the control plane's URL, as given.
	Server string
	Err    error
}

func (e *UnreachableError) Error() string {
	if errors.Is(e.Err, syscall.ECONNREFUSED) {
		hint := "is it running?"
		if u, err := url.Parse(e.Server); err == nil && isLoopback(u.Hostname()) {
			hint += " start one with make dev"
		}
		return fmt.Sprintf("cannot reach the control plane at %s (%s)", e.Server, hint)
	}
	cause := e.Err
	var ue *url.Error
	if errors.As(cause, &ue) {
		cause = ue.Err // without the method and URL: the server is named already
	}
	return fmt.Sprintf("cannot reach the control plane at %s: %v", e.Server, cause)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func call(ctx context.Context, c *http.Client, method, server, path string, body, out any) error {
	return callAuth(ctx, c, method, server, path, body, out, "")
}

func callAuth(ctx context.Context, c *http.Client, method, server, path string, body, out any, token string) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	u := strings.TrimSuffix(server, "/") + path
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if UserAgent != "" {
		req.Header.Set("User-Agent", UserAgent)
	}
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", method, u, err)
		}
		return &UnreachableError{Server: normalize(server), Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, u, err)
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Error string `json:"error"`
		}
		ae := &APIError{Status: resp.StatusCode, Message: fmt.Sprintf("%s %s: %s", method, u, resp.Status)}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			ae.Message = e.Error
			if !strings.ContainsAny(e.Error, " \t") {
				ae.Code = e.Error
			}
		}
		return ae
	}
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, u, err)
		}
	}
	return nil
}

// Store is the CLI's credentials file: server URL → session token.
type Store struct {
	// Path is the file; see DefaultPath.
	Path string
}

// DefaultPath is $AIRLOCK_CREDENTIALS, else airlock/credentials.json in
// the user's configuration folder.
func DefaultPath() (string, error) {
	if p := os.Getenv("AIRLOCK_CREDENTIALS"); p != "" {
		return p, nil
	}
	dir, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no folder for the credentials file (set AIRLOCK_CREDENTIALS): %w", err)
	}
	return filepath.Join(dir, "airlock", "credentials.json"), nil
}

type credentialsFile struct {
	Servers map[string]string `json:"servers"`
}

func (s Store) load() (credentialsFile, error) {
	f := credentialsFile{Servers: map[string]string{}}
	b, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return f, nil
	}
	if err != nil {
		return f, err
	}
	if err := json.Unmarshal(b, &f); err != nil {
		return f, fmt.Errorf("%s: not a credentials file (%v); delete it and sign in again", s.Path, err)
	}
	if f.Servers == nil {
		f.Servers = map[string]string{}
	}
	return f, nil
}

// Token is the token for server: $AIRLOCK_TOKEN if set, else the stored one.
func (s Store) Token(server string) (string, error) {
	if t := os.Getenv("AIRLOCK_TOKEN"); t != "" {
		return t, nil
	}
	f, err := s.load()
	if err != nil {
		return "", err
	}
	return f.Servers[normalize(server)], nil
}

// Save stores token for server (token "" forgets it). The file is replaced
// atomically and readable by its owner only.
func (s Store) Save(server, token string) error {
	f, err := s.load()
	if err != nil {
		return err
	}
	if token == "" {
		delete(f.Servers, normalize(server))
	} else {
		f.Servers[normalize(server)] = token
	}
	return s.write(f)
}

// Forget removes server's token from the file if it is still token: a
// sign-in in another terminal may have replaced it since it was saved.
func (s Store) Forget(server, token string) error {
	f, err := s.load()
	if err != nil {
		return err
	}
	if f.Servers[normalize(server)] != token {
		return nil
	}
	delete(f.Servers, normalize(server))
	return s.write(f)
}

func (s Store) write(f credentialsFile) error {
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), ".credentials-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.Path)
}

func normalize(server string) string { return strings.TrimSuffix(strings.TrimSpace(server), "/") }
