package oidcjwt

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"math/big"
	"mime"
	"net/url"
	"strings"
	"sync"
	"time"
)

const (
	// CacheTTL is how long an issuer's discovery document and JWKS are
	// used before being fetched again.
	CacheTTL = time.Hour
	// jwksRefreshInterval limits refetching for an unknown kid (key
	// rotation) to once a minute per issuer.
	jwksRefreshInterval = time.Minute
	// MaxResponseBody caps discovery documents and JWKS.
	MaxResponseBody = 64 << 10
)

// knownJWKSHosts are hosts other than the issuer's that serve its keys,
// for the issuers the providers document. Any other issuer's jwks_uri must
// be on the issuer's own host.
var knownJWKSHosts = map[string][]string{
	"accounts.google.com": {"www.googleapis.com"},
	"sts.windows.net":     {"login.microsoftonline.com"},
}

// Discovery is the part of an issuer's discovery document
// (/.well-known/openid-configuration) Airlock uses. Issuer and JWKSURI are
// checked when the document is fetched; the other endpoints are as
// published: check one with CheckEndpoint before sending anything to it.
type Discovery struct {
	Issuer                      string   `json:"issuer"`
	JWKSURI                     string   `json:"jwks_uri"`
	AuthorizationEndpoint       string   `json:"authorization_endpoint"`
	TokenEndpoint               string   `json:"token_endpoint"`
	DeviceAuthorizationEndpoint string   `json:"device_authorization_endpoint"`
	EndSessionEndpoint          string   `json:"end_session_endpoint"`
	CodeChallengeMethods        []string `json:"code_challenge_methods_supported"`
	// AuthorizationResponseIssParameterSupported: the provider sends iss
	// with its authorization responses (RFC 9207), so one without is forged.
	AuthorizationResponseIssParameterSupported bool `json:"authorization_response_iss_parameter_supported"`
}

// Issuers fetches and caches issuers' discovery documents and signing
// keys (CacheTTL; an unknown kid refetches at most once a minute, as after
// a key rotation). It is safe for concurrent use; concurrent lookups of one
// issuer share one fetch. It starts no timers.
//
// Issuers fetches whatever issuer it is asked about: callers pin issuers
// (compare iss with their configuration) before asking, so that a token
// cannot make the edge fetch a URL of the token's choosing.
type Issuers struct {
	fetch Fetcher

	mu      sync.Mutex
	entries map[string]*issuerEntry
}

// issuerEntry caches one issuer. Its mutex serialises refreshes.
type issuerEntry struct {
	mu        sync.Mutex
	doc       *Discovery
	keys      map[string]*jwk
	fetchedAt time.Time
}

// jwk is a public signing key from a JWKS.
type jwk struct {
	kid string
	alg string // "" when the JWKS does not restrict it
	pub crypto.PublicKey
}

// NewIssuers returns an empty cache that fetches through f.
func NewIssuers(f Fetcher) *Issuers {
	return &Issuers{fetch: f, entries: map[string]*issuerEntry{}}
}

func (is *Issuers) entry(iss string) *issuerEntry {
	is.mu.Lock()
	defer is.mu.Unlock()
	e, ok := is.entries[iss]
	if !ok {
		e = &issuerEntry{}
		is.entries[iss] = e
	}
	return e
}

func (e *issuerEntry) fresh(now time.Time) bool {
	return e.keys != nil && now.Sub(e.fetchedAt) < CacheTTL && !now.Before(e.fetchedAt)
}

// Discovery returns iss's discovery document, from the cache when fresh.
func (is *Issuers) Discovery(ctx context.Context, iss string, now time.Time) (*Discovery, error) {
	e := is.entry(iss)
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.fresh(now) {
		return e.doc, nil
	}
	if err := is.refresh(ctx, e, iss, now); err != nil {
		return nil, err
	}
	return e.doc, nil
}

// VerifySignature checks t's signature with its issuer's key t.Kid.
func (is *Issuers) VerifySignature(ctx context.Context, t *Token, now time.Time) error {
	key, err := is.signingKey(ctx, t.Issuer, t.Kid, now)
	if err != nil {
		return err
	}
	return verifySignature(t.Alg, key, t.signingInput, t.signature)
}

// Verify is Parse, a check that iss is exactly issuer (before anything is
// fetched), VerifySignature and CheckClaims.
func (is *Issuers) Verify(ctx context.Context, raw, issuer string, now time.Time, e Expect) (*Token, error) {
	t, err := Parse(raw)
	if err != nil {
		return nil, err
	}
	if t.Issuer != issuer {
		return nil, refused("oidc: token issued by %s; expected %s", Quote(t.Issuer), Quote(issuer))
	}
	if err := is.VerifySignature(ctx, t, now); err != nil {
		return nil, err
	}
	if err := t.CheckClaims(now, e); err != nil {
		return nil, err
	}
	return t, nil
}

// signingKey finds the issuer's key kid, fetching discovery and JWKS when
// the cache is empty or stale, or (at most once a minute) when kid is
// unknown, as after a key rotation.
func (is *Issuers) signingKey(ctx context.Context, iss, kid string, now time.Time) (*jwk, error) {
	e := is.entry(iss)
	e.mu.Lock()
	defer e.mu.Unlock()
	fresh := e.fresh(now)
	if k, ok := e.keys[kid]; ok && fresh {
		return k, nil
	}
	if fresh && now.Sub(e.fetchedAt) < jwksRefreshInterval {
		return nil, refused("oidc: the issuer %s has no key %s", Quote(iss), Quote(kid))
	}
	if err := is.refresh(ctx, e, iss, now); err != nil {
		return nil, err
	}
	if k, ok := e.keys[kid]; ok {
		return k, nil
	}
	return nil, refused("oidc: the issuer %s has no key %s", Quote(iss), Quote(kid))
}

// refresh fetches the discovery document and the JWKS; e.mu is held.
func (is *Issuers) refresh(ctx context.Context, e *issuerEntry, iss string, now time.Time) error {
	discoveryURL := strings.TrimSuffix(iss, "/") + "/.well-known/openid-configuration"
	body, err := is.getJSON(ctx, discoveryURL, "discovery document")
	if err != nil {
		return err
	}
	var doc Discovery
	if err := json.Unmarshal(body, &doc); err != nil {
		return unavailable("oidc: the discovery document at %s is not a JSON object of the expected shape", discoveryURL)
	}
	if doc.Issuer != iss {
		return unavailable("oidc: the discovery document at %s names issuer %s; expected %s", discoveryURL, Quote(doc.Issuer), Quote(iss))
	}
	if err := checkJWKSURI(iss, doc.JWKSURI); err != nil {
		return err
	}
	body, err = is.getJSON(ctx, doc.JWKSURI, "JWKS")
	if err != nil {
		return err
	}
	keys, err := parseJWKS(body, doc.JWKSURI)
	if err != nil {
		return err
	}
	e.doc, e.keys, e.fetchedAt = &doc, keys, now
	return nil
}

func (is *Issuers) getJSON(ctx context.Context, u, what string) ([]byte, error) {
	resp, err := is.fetch.Fetch(ctx, HTTPRequest{Method: "GET", URL: u, Header: map[string][]string{"Accept": {"application/json"}}})
	if err != nil {
		return nil, unavailable("oidc: fetching the %s at %s: %v", what, u, err)
	}
	if resp.Status != 200 {
		return nil, unavailable("oidc: the %s at %s answered %d; expected 200 (redirects are not followed)", what, u, resp.Status)
	}
	if len(resp.Body) > MaxResponseBody {
		return nil, unavailable("oidc: the %s at %s is %d bytes or more; expected at most %d", what, u, len(resp.Body), MaxResponseBody)
	}
	mt, _, _ := mime.ParseMediaType(HeaderValue(resp.Header, "Content-Type"))
	if mt != "application/json" && mt != "application/jwk-set+json" {
		return nil, unavailable("oidc: the %s at %s is %s; expected application/json", what, u, Quote(HeaderValue(resp.Header, "Content-Type")))
	}
	if err := CheckJSON(resp.Body); err != nil {
		return nil, unavailable("oidc: the %s at %s: %v", what, u, err)
	}
	return resp.Body, nil
}

// IsLoopbackHost reports whether host (no port) is 127.0.0.1, localhost
// or ::1 — the only hosts plain http may be used with.
func IsLoopbackHost(host string) bool {
	switch host {
	case "localhost", "127.0.0.1", "::1":
		return true
	}
	return false
}

// CheckASCIIURL refuses non-ASCII (IDN look-alikes), spaces, control
// characters and backslashes anywhere in a URL.
func CheckASCIIURL(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || c == '\\' {
			return fmt.Errorf("%s has a character that is not printable ASCII (%q at byte %d); expected a plain URL (IDN hosts in punycode)", Quote(s), c, i)
		}
	}
	return nil
}

// CheckEndpoint holds an endpoint an issuer's discovery document
// publishes (authorization, token, device authorization, end session) to
// the rules: an absolute https URL (http only on a loopback host when the
// issuer itself is loopback http), without user info or fragment. Unlike
// the jwks_uri it may be on another host (Google's token endpoint is).
func CheckEndpoint(iss, name, raw string) error {
	if raw == "" {
		return unavailable("oidc: the issuer %s publishes no %s", Quote(iss), name)
	}
	if err := CheckASCIIURL(raw); err != nil {
		return unavailable("oidc: %s: %v", name, err)
	}
	iu, err := url.Parse(iss)
	if err != nil {
		return unavailable("oidc: issuer %s is not a URL", Quote(iss))
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return unavailable("oidc: %s %s of %s is not an absolute URL", name, Quote(raw), Quote(iss))
	}
	if u.User != nil || u.Fragment != "" {
		return unavailable("oidc: %s %s of %s has user info or a fragment", name, Quote(raw), Quote(iss))
	}
	loopbackIssuer := iu.Scheme == "http" && IsLoopbackHost(iu.Hostname())
	if u.Scheme != "https" && !(u.Scheme == "http" && loopbackIssuer && IsLoopbackHost(u.Hostname())) {
		return unavailable("oidc: %s %s of %s; expected https (http only on a loopback host for a loopback http issuer)", name, Quote(raw), Quote(iss))
	}
	return nil
}

// checkJWKSURI holds the jwks_uri to the issuer's rules: https (or http
// when the issuer itself is loopback http), no user info, query-free, on
// the issuer's host or a host the provider documents.
func checkJWKSURI(iss, raw string) error {
	if err := CheckASCIIURL(raw); err != nil {
		return unavailable("oidc: jwks_uri: %v", err)
	}
	iu, err := url.Parse(iss)
	if err != nil {
		return unavailable("oidc: issuer %s is not a URL", Quote(iss))
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return unavailable("oidc: jwks_uri %s of %s is not a URL", Quote(raw), Quote(iss))
	}
	if u.User != nil || u.Fragment != "" {
		return unavailable("oidc: jwks_uri %s of %s has user info or a fragment", Quote(raw), Quote(iss))
	}
	if u.Scheme != iu.Scheme || (u.Scheme != "https" && !(u.Scheme == "http" && IsLoopbackHost(u.Hostname()))) {
		return unavailable("oidc: jwks_uri %s of %s; expected https (http only for a loopback issuer)", Quote(raw), Quote(iss))
	}
	if strings.EqualFold(u.Host, iu.Host) {
		return nil
	}
	for _, h := range knownJWKSHosts[strings.ToLower(iu.Hostname())] {
		if strings.EqualFold(u.Host, h) {
			return nil
		}
	}
	return unavailable("oidc: jwks_uri %s is not on the issuer's host %s", Quote(raw), Quote(iu.Host))
}

func parseJWKS(body []byte, from string) (map[string]*jwk, error) {
	var set struct {
		Keys []struct {
			Kty string `json:"kty"`
			Kid string `json:"kid"`
			Use string `json:"use"`
			Alg string `json:"alg"`
			N   string `json:"n"`
			E   string `json:"e"`
			Crv string `json:"crv"`
			X   string `json:"x"`
			Y   string `json:"y"`
		} `json:"keys"`
	}
	if err := json.Unmarshal(body, &set); err != nil {
		return nil, unavailable("oidc: the JWKS at %s is not a key set", from)
	}
	keys := map[string]*jwk{}
	for _, k := range set.Keys {
		if k.Kid == "" || (k.Use != "" && k.Use != "sig") {
			continue
		}
		if _, dup := keys[k.Kid]; dup {
			// Two keys under one kid: trust neither.
			keys[k.Kid] = nil
			continue
		}
		pub, err := publicKey(k.Kty, k.N, k.E, k.Crv, k.X, k.Y)
		if err != nil {
			continue // a key we cannot use is not an error for the others
		}
		keys[k.Kid] = &jwk{kid: k.Kid, alg: k.Alg, pub: pub}
	}
	for kid, k := range keys {
		if k == nil {
			delete(keys, kid)
		}
	}
	return keys, nil
}

func publicKey(kty, n, e, crv, x, y string) (crypto.PublicKey, error) {
	dec := func(s string) ([]byte, error) { return b64.DecodeString(s) }
	switch kty {
	case "RSA":
		nb, err1 := dec(n)
		eb, err2 := dec(e)
		if err1 != nil || err2 != nil || len(eb) == 0 || len(eb) > 4 {
			return nil, fmt.Errorf("bad RSA key")
		}
		pub := &rsa.PublicKey{N: new(big.Int).SetBytes(nb), E: int(new(big.Int).SetBytes(eb).Int64())}
		if pub.N.BitLen() < 2048 || pub.E < 3 || pub.E%2 == 0 {
			return nil, fmt.Errorf("weak RSA key")
		}
		return pub, nil
	case "EC":
		var curve elliptic.Curve
		size := 0
		switch crv {
		case "P-256":
			curve, size = elliptic.P256(), 32
		case "P-384":
			curve, size = elliptic.P384(), 48
		default:
			return nil, fmt.Errorf("unsupported curve")
		}
		xb, err1 := dec(x)
		yb, err2 := dec(y)
		if err1 != nil || err2 != nil || len(xb) != size || len(yb) != size {
			return nil, fmt.Errorf("bad EC key")
		}
		// ParseUncompressedPublicKey checks that the point is on the curve.
		uncompressed := append(append([]byte{4}, xb...), yb...)
		pub, err := ecdsa.ParseUncompressedPublicKey(curve, uncompressed)
		if err != nil {
			return nil, err
		}
		return pub, nil
	case "OKP":
		xb, err := dec(x)
		if crv != "Ed25519" || err != nil || len(xb) != ed25519.PublicKeySize {
			return nil, fmt.Errorf("bad OKP key")
		}
		return ed25519.PublicKey(xb), nil
	}
	return nil, fmt.Errorf("unsupported key type")
}
