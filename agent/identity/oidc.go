package identity

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/airlockci/airlock/internal/identity"
)

// DefaultKubernetesTokenFile is where the agent's pod spec mounts a projected
// service-account token whose audience is the control plane.
const DefaultKubernetesTokenFile = "/var/run/secrets/airlock/token"

// Default metadata services.
const (
	DefaultGCPMetadataURL   = "http://metadata.google.internal"
	DefaultAzureMetadataURL = "http://169.254.169.254"
)

// Kubernetes proves the pod's service account with a projected token. The
// kubelet rotates the file, so it is read again on every Prove.
type Kubernetes struct {
	// TokenFile defaults to DefaultKubernetesTokenFile.
	TokenFile string
}

// GCP proves the VM's or workload's service account with an identity token
// from the metadata server.
type GCP struct {
	// Audience is the token's aud; required.
	Audience string
	// MetadataURL defaults to DefaultGCPMetadataURL.
	MetadataURL string
	// Client defaults to a client that bypasses proxies.
	Client *http.Client
}

// Azure proves the managed identity with a token from the instance metadata
// service (IMDS).
type Azure struct {
	// Resource is the token's audience; required.
	Resource string
	// ClientID selects a user-assigned identity; empty means system-assigned.
	ClientID string
	// MetadataURL defaults to DefaultAzureMetadataURL.
	MetadataURL string
	// Client defaults to a client that bypasses proxies.
	Client *http.Client
}

// GitHub proves the workflow run with a GitHub Actions OIDC token. The job
// needs `permissions: id-token: write`.
type GitHub struct {
	// Audience is the token's aud; required.
	Audience string
	// RequestURL and RequestToken are $ACTIONS_ID_TOKEN_REQUEST_URL and
	// $ACTIONS_ID_TOKEN_REQUEST_TOKEN.
	RequestURL, RequestToken string
	// Client defaults to one that honours the proxy environment.
	Client *http.Client
}

var (
	_ Prover = (*Kubernetes)(nil)
	_ Prover = (*GCP)(nil)
	_ Prover = (*Azure)(nil)
	_ Prover = (*GitHub)(nil)
)

// NewGitHub returns a GitHub prover configured from the Actions environment.
func NewGitHub(audience string) (*GitHub, error) {
	g := &GitHub{
		Audience:     audience,
		RequestURL:   os.Getenv("ACTIONS_ID_TOKEN_REQUEST_URL"),
		RequestToken: os.Getenv("ACTIONS_ID_TOKEN_REQUEST_TOKEN"),
	}
	if g.RequestURL == "" || g.RequestToken == "" {
		var missing []string
		if g.RequestURL == "" {
			missing = append(missing, "ACTIONS_ID_TOKEN_REQUEST_URL")
		}
		if g.RequestToken == "" {
			missing = append(missing, "ACTIONS_ID_TOKEN_REQUEST_TOKEN")
		}
		return nil, fmt.Errorf("identity github: %s not set; is this a GitHub Actions job with `permissions: id-token: write`?",
			strings.Join(missing, " and "))
	}
	return g, nil
}

// Prove reads the token file.
func (k *Kubernetes) Prove(ctx context.Context, challenge string) (*identity.Proof, error) {
	path := k.TokenFile
	if path == "" {
		path = DefaultKubernetesTokenFile
	}
	src := "identity kubernetes: token file " + path
	if err := checkChallenge(challenge); err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (is a projected service-account token mounted there?)", src, errors.Unwrap(err))
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if len(b) > maxResponse {
		return nil, fmt.Errorf("%s: larger than %d bytes", src, maxResponse)
	}
	return oidcProof(src, KindKubernetes, challenge, string(b))
}

// Prove asks the metadata server for an identity token.
func (g *GCP) Prove(ctx context.Context, challenge string) (*identity.Proof, error) {
	base := orDefault(g.MetadataURL, DefaultGCPMetadataURL)
	src := "identity gcp: metadata server " + base
	if err := checkChallenge(challenge); err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if g.Audience == "" {
		return nil, fmt.Errorf("%s: no audience", src)
	}
	q := url.Values{"audience": {g.Audience}, "format": {"full"}}
	u := strings.TrimSuffix(base, "/") + "/computeMetadata/v1/instance/service-accounts/default/identity?" + q.Encode()
	body, err := fetch(ctx, src, orClient(g.Client, metadataClient), u, http.Header{"Metadata-Flavor": {"Google"}})
	if err != nil {
		return nil, err
	}
	return oidcProof(src, KindGCP, challenge, string(body))
}

// Prove asks IMDS for a managed-identity token.
func (a *Azure) Prove(ctx context.Context, challenge string) (*identity.Proof, error) {
	base := orDefault(a.MetadataURL, DefaultAzureMetadataURL)
	src := "identity azure: instance metadata service " + base
	if err := checkChallenge(challenge); err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if a.Resource == "" {
		return nil, fmt.Errorf("%s: no resource (audience)", src)
	}
	q := url.Values{"api-version": {"2018-02-01"}, "resource": {a.Resource}}
	if a.ClientID != "" {
		q.Set("client_id", a.ClientID)
	}
	u := strings.TrimSuffix(base, "/") + "/metadata/identity/oauth2/token?" + q.Encode()
	body, err := fetch(ctx, src, orClient(a.Client, metadataClient), u, http.Header{"Metadata": {"true"}})
	if err != nil {
		return nil, err
	}
	token, err := jsonString(body, "access_token")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return oidcProof(src, KindAzure, challenge, token)
}

// Prove asks the Actions token service for an OIDC token.
func (g *GitHub) Prove(ctx context.Context, challenge string) (*identity.Proof, error) {
	src := "identity github: ACTIONS_ID_TOKEN_REQUEST_URL"
	if err := checkChallenge(challenge); err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	if g.Audience == "" {
		return nil, fmt.Errorf("%s: no audience", src)
	}
	u, err := url.Parse(g.RequestURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("%s: not an http(s) URL", src)
	}
	src += " (" + u.Scheme + "://" + u.Host + ")"
	q := u.Query()
	q.Set("audience", g.Audience)
	u.RawQuery = q.Encode()
	body, err := fetch(ctx, src, orClient(g.Client, http.DefaultClient), u.String(),
		http.Header{"Authorization": {"bearer " + g.RequestToken}, "Accept": {"application/json"}})
	if err != nil {
		return nil, err
	}
	token, err := jsonString(body, "value")
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	return oidcProof(src, KindGitHub, challenge, token)
}

// metadataClient talks to link-local metadata services, which must never be
// reached through a proxy and never redirect.
var metadataClient = &http.Client{
	Transport: func() http.RoundTripper {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Proxy = nil
		return t
	}(),
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// fetch GETs u and returns the body of a 200 answer, at most maxResponse
// bytes. Errors start with src and never contain the body of a 200 answer
// (the token) or the request's headers.
func fetch(ctx context.Context, src string, client *http.Client, u string, h http.Header) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, defaultTimeout)
		defer cancel()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: building the request: %w", src, err)
	}
	req.Header = h
	resp, err := client.Do(req)
	if err != nil {
		// *url.Error repeats the URL, which may carry the audience but no
		// secret; keep only the cause to stay short.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("%s: %w", src, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResponse+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading the answer: %w", src, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: answered %s: %s", src, resp.Status, snippet(body))
	}
	if len(body) > maxResponse {
		return nil, fmt.Errorf("%s: answer larger than %d bytes", src, maxResponse)
	}
	return body, nil
}

var jwtLike = regexp.MustCompile(`[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*`)

// snippet is the start of an error answer, for the error message, with
// anything that looks like a JWT redacted and control bytes dropped.
func snippet(b []byte) string {
	const limit = 200
	if len(b) > limit {
		b = b[:limit]
	}
	s := jwtLike.ReplaceAllString(string(bytes.ToValidUTF8(b, nil)), "[redacted]")
	s = strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if s = strings.TrimSpace(s); s == "" {
		return "(empty body)"
	}
	return fmt.Sprintf("%q", s)
}

// jsonString is the string field of a JSON object, which must be present
// and non-empty. Errors never quote the input.
func jsonString(body []byte, field string) (string, error) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(body, &m); err != nil {
		return "", fmt.Errorf("answer is not a JSON object (%d bytes)", len(body))
	}
	raw, ok := m[field]
	if !ok {
		return "", fmt.Errorf("answer has no %q field", field)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("answer's %q is not a string", field)
	}
	if s == "" {
		return "", fmt.Errorf("answer's %q is empty", field)
	}
	return s, nil
}

// oidcProof wraps token, after checking it is a JWT with an exp claim.
func oidcProof(src, provider, challenge, token string) (*identity.Proof, error) {
	token = strings.TrimSpace(token)
	exp, err := jwtExpiry(token)
	if err != nil {
		return nil, fmt.Errorf("%s: token: %w", src, err)
	}
	return &identity.Proof{
		Kind:        "oidc",
		Challenge:   challenge,
		OIDC:        &identity.OIDCToken{Provider: provider, Token: token},
		ExpiresUnix: exp,
	}, nil
}

// jwtExpiry is the exp claim of a compact JWS, read without verifying the
// signature (the control plane verifies). Errors never quote the token.
func jwtExpiry(token string) (int64, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return 0, fmt.Errorf("not a JWT: %d dot-separated parts, want 3", len(parts))
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return 0, errors.New("not a JWT: payload is not base64url")
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(payload, &claims); err != nil {
		return 0, errors.New("not a JWT: payload is not a JSON object")
	}
	raw, ok := claims["exp"]
	if !ok {
		return 0, errors.New("no exp claim")
	}
	var exp json.Number
	if err := json.Unmarshal(raw, &exp); err != nil {
		return 0, errors.New("exp claim is not a positive number")
	}
	f, err := exp.Float64()
	if err != nil || f <= 0 || f > math.MaxInt64/2 || math.IsNaN(f) {
		return 0, errors.New("exp claim is not a positive number")
	}
	return int64(f), nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func orClient(c, def *http.Client) *http.Client {
	if c == nil {
		return def
	}
	return c
}
