package idtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
)

// Issuer is a local OpenID Connect issuer for workload tokens: it serves a
// discovery document at {issuer}/.well-known/openid-configuration and its
// public keys (JWKS) at {issuer}/keys, and mints tokens signed with real
// keys: one per algorithm RS256, PS256, ES256, ES384 and EdDSA, each with
// its own kid.
type Issuer struct {
	// Path is appended to the server's URL to form the issuer (Kubernetes
	// and Azure issuers have paths); default none. Set before Start.
	Path string
	// Now is the clock for minted tokens' default iat/nbf/exp; nil means
	// time.Now.
	Now func() time.Time

	mu        sync.Mutex
	keys      []issuerKey
	jwksURI   string
	discovery int
	jwks      int
	srv       server
}

type issuerKey struct {
	alg  jose.SignatureAlgorithm
	kid  string
	priv crypto.Signer
}

// Algorithms the issuer signs with (Claims.Alg).
var issuerAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.PS256, jose.ES256, jose.ES384, jose.EdDSA}

// NewIssuer returns an unstarted issuer with fresh keys.
func NewIssuer() (*Issuer, error) {
	keys, err := newIssuerKeys()
	if err != nil {
		return nil, err
	}
	return &Issuer{keys: keys}, nil
}

// StartIssuer is NewIssuer followed by Start.
func StartIssuer() (*Issuer, error) {
	i, err := NewIssuer()
	if err != nil {
		return nil, err
	}
	if err := i.Start(); err != nil {
		return nil, err
	}
	return i, nil
}

func newIssuerKeys() ([]issuerKey, error) {
	gen := randomHex(4)
	var keys []issuerKey
	for _, alg := range issuerAlgs {
		var priv crypto.Signer
		var err error
		switch alg {
		case jose.RS256, jose.PS256:
			priv, err = rsa.GenerateKey(rand.Reader, 2048)
		case jose.ES256:
			priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		case jose.ES384:
			priv, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		case jose.EdDSA:
			_, priv, err = ed25519.GenerateKey(rand.Reader)
		}
		if err != nil {
			return nil, fmt.Errorf("idtest: generate %s key: %w", alg, err)
		}
		keys = append(keys, issuerKey{alg: alg, kid: strings.ToLower(string(alg)) + "-" + gen, priv: priv})
	}
	return keys, nil
}

// Start serves on a fresh 127.0.0.1 port.
func (i *Issuer) Start() error {
	mux := http.NewServeMux()
	p := strings.TrimSuffix(i.Path, "/")
	mux.HandleFunc("GET "+p+oidc.DiscoveryEndpoint, i.serveDiscovery)
	mux.HandleFunc("GET "+p+"/keys", i.serveJWKS)
	return i.srv.start(mux)
}

// Close stops the server; see the package comment.
func (i *Issuer) Close() error { return i.srv.close() }

// URL is the issuer identifier ("iss"): "http://127.0.0.1:PORT" + Path.
func (i *Issuer) URL() string { return i.srv.baseURL() + strings.TrimSuffix(i.Path, "/") }

// SetJWKSURI changes the jwks_uri the discovery document publishes
// (default URL()+"/keys"), to test a verifier's checks on it.
func (i *Issuer) SetJWKSURI(u string) {
	i.mu.Lock()
	defer i.mu.Unlock()
	i.jwksURI = u
}

// Rotate replaces every key (new kids); tokens minted before no longer
// verify against the published JWKS.
func (i *Issuer) Rotate() error {
	keys, err := newIssuerKeys()
	if err != nil {
		return err
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	i.keys = keys
	return nil
}

// DiscoveryRequests and JWKSRequests count the requests served, to test a
// verifier's caching.
func (i *Issuer) DiscoveryRequests() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.discovery
}

// JWKSRequests: see DiscoveryRequests.
func (i *Issuer) JWKSRequests() int {
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.jwks
}

// KeyID is the kid of the key that signs alg.
func (i *Issuer) KeyID(alg string) string {
	k, err := i.key(alg)
	if err != nil {
		return ""
	}
	return k.kid
}

func (i *Issuer) key(alg string) (issuerKey, error) {
	if alg == "" {
		alg = string(jose.RS256)
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, k := range i.keys {
		if string(k.alg) == alg {
			return k, nil
		}
	}
	return issuerKey{}, fmt.Errorf("idtest: the issuer has no %s key", alg)
}

func (i *Issuer) serveDiscovery(w http.ResponseWriter, _ *http.Request) {
	i.mu.Lock()
	i.discovery++
	jwksURI := i.jwksURI
	i.mu.Unlock()
	if jwksURI == "" {
		jwksURI = i.URL() + "/keys"
	}
	algs := make([]string, len(issuerAlgs))
	for n, a := range issuerAlgs {
		algs[n] = string(a)
	}
	doc := &oidc.DiscoveryConfiguration{
		Issuer:                           i.URL(),
		JwksURI:                          jwksURI,
		ResponseTypesSupported:           []string{"id_token"},
		SubjectTypesSupported:            []string{"public"},
		IDTokenSigningAlgValuesSupported: algs,
		ScopesSupported:                  []string{oidc.ScopeOpenID},
		ClaimsSupported:                  []string{"sub", "aud", "exp", "iat", "iss", "nbf", "jti"},
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_ = json.NewEncoder(w).Encode(doc)
}

func (i *Issuer) serveJWKS(w http.ResponseWriter, _ *http.Request) {
	i.mu.Lock()
	i.jwks++
	set := jose.JSONWebKeySet{}
	for _, k := range i.keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k.priv.Public(), KeyID: k.kid, Algorithm: string(k.alg), Use: "sig"})
	}
	i.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "max-age=300")
	_ = json.NewEncoder(w).Encode(set)
}

// Claims describes a token to mint. Zero values take the defaults noted.
type Claims struct {
	// Issuer is "iss"; default URL().
	Issuer string
	// Subject is "sub".
	Subject string
	// Audience is "aud", encoded as a string when it has one element and
	// as an array otherwise (both forms occur in the wild).
	Audience []string
	// IssuedAt is "iat" and NotBefore "nbf"; default now.
	IssuedAt, NotBefore time.Time
	// Expiry is "exp"; default now + 10 min.
	Expiry time.Time
	// Extra holds provider-specific claims (GitHub's repository, ref...,
	// Kubernetes' kubernetes.io...). It is applied last: it may override
	// a registered claim, and a nil value removes the claim.
	Extra map[string]any
	// Alg is the signing algorithm: RS256 (default), PS256, ES256, ES384
	// or EdDSA.
	Alg string
	// KeyID overrides the kid header.
	KeyID string
}

// Mint signs a compact JWS (a JWT) with claims c.
func (i *Issuer) Mint(c Claims) (string, error) {
	payload, err := i.payload(c)
	if err != nil {
		return "", err
	}
	k, err := i.key(c.Alg)
	if err != nil {
		return "", err
	}
	kid := k.kid
	if c.KeyID != "" {
		kid = c.KeyID
	}
	obj, err := sign(payload, k.alg, k.priv, kid)
	if err != nil {
		return "", err
	}
	return obj.CompactSerialize()
}

// MustMint is Mint for tests that cannot go on without a token.
func (i *Issuer) MustMint(c Claims) string {
	tok, err := i.Mint(c)
	if err != nil {
		panic(err)
	}
	return tok
}

func sign(payload []byte, alg jose.SignatureAlgorithm, key any, kid string) (*jose.JSONWebSignature, error) {
	opts := (&jose.SignerOptions{}).WithType("JWT")
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: kid}}, opts)
	if err != nil {
		return nil, fmt.Errorf("idtest: signer: %w", err)
	}
	obj, err := s.Sign(payload)
	if err != nil {
		return nil, fmt.Errorf("idtest: sign: %w", err)
	}
	return obj, nil
}

// payload is the claims as JSON, built on zitadel's IDTokenClaims.
func (i *Issuer) payload(c Claims) ([]byte, error) {
	now := time.Now()
	if i.Now != nil {
		now = i.Now()
	}
	if c.Issuer == "" {
		c.Issuer = i.URL()
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = now
	}
	if c.NotBefore.IsZero() {
		c.NotBefore = now
	}
	if c.Expiry.IsZero() {
		c.Expiry = now.Add(10 * time.Minute)
	}
	idc := &oidc.IDTokenClaims{
		TokenClaims: oidc.TokenClaims{
			Issuer:     c.Issuer,
			Subject:    c.Subject,
			Audience:   c.Audience,
			Expiration: oidc.FromTime(c.Expiry),
			IssuedAt:   oidc.FromTime(c.IssuedAt),
			JWTID:      randomHex(12),
		},
		NotBefore: oidc.FromTime(c.NotBefore),
	}
	raw, err := json.Marshal(idc)
	if err != nil {
		return nil, fmt.Errorf("idtest: claims: %w", err)
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("idtest: claims: %w", err)
	}
	if len(c.Audience) == 1 {
		m["aud"] = c.Audience[0]
	}
	for k, v := range c.Extra {
		if v == nil {
			delete(m, k)
			continue
		}
		m[k] = v
	}
	return json.Marshal(m)
}

// Malformation is a way a token can be wrong beyond its claims.
type Malformation int

const (
	// AlgNone is an unsigned token: header alg "none", empty signature.
	AlgNone Malformation = iota + 1
	// HMAC is HS256, keyed with the RS256 public key's DER bytes and
	// carrying its kid: the classic key-confusion attack.
	HMAC
	// UnknownKey is signed by a key not in the JWKS, with a kid that is
	// not either.
	UnknownKey
	// ForeignKey is signed by a key not in the JWKS but carries the kid
	// of a published key, so only the signature check catches it.
	ForeignKey
	// BadSignature is a correctly signed token with one signature byte
	// changed.
	BadSignature
	// TwoSignatures is the JWS JSON general serialization with two
	// signatures (RS256 and ES256), both valid.
	TwoSignatures
	// Flattened is the JWS JSON flattened serialization of a valid token.
	Flattened
)

// MintMalformed mints a token with claims c, broken as m says.
func (i *Issuer) MintMalformed(c Claims, m Malformation) (string, error) {
	payload, err := i.payload(c)
	if err != nil {
		return "", err
	}
	rs, err := i.key(string(jose.RS256))
	if err != nil {
		return "", err
	}
	switch m {
	case AlgNone:
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		return h + "." + base64.RawURLEncoding.EncodeToString(payload) + ".", nil
	case HMAC:
		der, err := x509.MarshalPKIXPublicKey(rs.priv.Public())
		if err != nil {
			return "", err
		}
		obj, err := sign(payload, jose.HS256, der, rs.kid)
		if err != nil {
			return "", err
		}
		return obj.CompactSerialize()
	case UnknownKey, ForeignKey:
		other, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return "", err
		}
		kid := "unknown-" + randomHex(4)
		if m == ForeignKey {
			kid = i.KeyID(string(jose.ES256))
		}
		obj, err := sign(payload, jose.ES256, other, kid)
		if err != nil {
			return "", err
		}
		return obj.CompactSerialize()
	case BadSignature:
		tok, err := i.Mint(c)
		if err != nil {
			return "", err
		}
		dot := strings.LastIndexByte(tok, '.')
		sig, err := base64.RawURLEncoding.DecodeString(tok[dot+1:])
		if err != nil {
			return "", err
		}
		sig[len(sig)/2] ^= 0x01
		return tok[:dot+1] + base64.RawURLEncoding.EncodeToString(sig), nil
	case TwoSignatures:
		es, err := i.key(string(jose.ES256))
		if err != nil {
			return "", err
		}
		s, err := jose.NewMultiSigner([]jose.SigningKey{
			{Algorithm: rs.alg, Key: jose.JSONWebKey{Key: rs.priv, KeyID: rs.kid}},
			{Algorithm: es.alg, Key: jose.JSONWebKey{Key: es.priv, KeyID: es.kid}},
		}, (&jose.SignerOptions{}).WithType("JWT"))
		if err != nil {
			return "", err
		}
		obj, err := s.Sign(payload)
		if err != nil {
			return "", err
		}
		return obj.FullSerialize(), nil
	case Flattened:
		obj, err := sign(payload, rs.alg, rs.priv, rs.kid)
		if err != nil {
			return "", err
		}
		return obj.FullSerialize(), nil
	}
	return "", errors.New("idtest: unknown malformation")
}
