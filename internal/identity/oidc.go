package identity

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/json"
	"fmt"
	"math/big"
	"mime"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

const (
	// OIDCCacheTTL is how long an issuer's discovery document and JWKS
	// are used before being fetched again.
	OIDCCacheTTL = time.Hour
	// jwksRefreshInterval limits refetching the JWKS for an unknown kid
	// (key rotation) to once a minute per issuer.
	jwksRefreshInterval = time.Minute
	// maxTokenSize caps a JWT; real platform tokens are 1-3 KiB.
	maxTokenSize = 12 << 10
)

// knownJWKSHosts are hosts other than the issuer's that serve its keys,
// for the issuers the providers document. Any other issuer's jwks_uri must
// be on the issuer's own host.
var knownJWKSHosts = map[string][]string{
	"accounts.google.com": {"www.googleapis.com"},
	"sts.windows.net":     {"login.microsoftonline.com"},
}

type jwtHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

func (v *Verifier) verifyOIDC(ctx context.Context, p *Proof, now time.Time) (Identity, error) {
	provider := p.OIDC.Provider
	tok := p.OIDC.Token
	if len(tok) > maxTokenSize {
		return Identity{}, refused("oidc: token is %d bytes; expected at most %d", len(tok), maxTokenSize)
	}
	if strings.HasPrefix(strings.TrimSpace(tok), "{") {
		return Identity{}, refused("oidc: token is a JWS JSON serialization; expected a compact JWT (header.payload.signature)")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return Identity{}, refused("oidc: token has %d parts; expected a compact JWT with 3 (header.payload.signature)", len(parts))
	}
	rawHeader, err := b64.DecodeString(parts[0])
	if err != nil {
		return Identity{}, refused("oidc: token header is not base64url: %v", err)
	}
	rawClaims, err := b64.DecodeString(parts[1])
	if err != nil {
		return Identity{}, refused("oidc: token payload is not base64url: %v", err)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return Identity{}, refused("oidc: token signature is not base64url: %v", err)
	}

	if err := checkJSON(rawHeader); err != nil {
		return Identity{}, refused("oidc: token header: %v", err)
	}
	var h jwtHeader
	if err := json.Unmarshal(rawHeader, &h); err != nil {
		return Identity{}, refused("oidc: token header is not a JSON object: %v", err)
	}
	if err := checkAlg(h.Alg); err != nil {
		return Identity{}, err
	}
	if len(h.Crit) > 0 {
		return Identity{}, refused("oidc: token header has crit extensions; none are supported")
	}
	if h.Kid == "" {
		return Identity{}, refused("oidc: token header has no kid; expected the id of the issuer's signing key")
	}
	if len(sig) == 0 {
		return Identity{}, refused("oidc: token is unsigned")
	}

	if err := checkJSON(rawClaims); err != nil {
		return Identity{}, refused("oidc: token claims: %v", err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(rawClaims, &claims); err != nil {
		return Identity{}, refused("oidc: token claims are not a JSON object")
	}
	var iss string
	if err := json.Unmarshal(claims["iss"], &iss); err != nil || iss == "" {
		return Identity{}, refused("oidc: token has no iss claim (a string)")
	}
	// Pinning comes before any fetch: a token cannot make us fetch a URL
	// no pool names.
	if !v.cfg.pinned(iss) {
		return Identity{}, refused("oidc: issuer %s is not trusted by any pool", quote(iss))
	}

	key, err := v.signingKey(ctx, iss, h.Kid, h.Alg, now)
	if err != nil {
		return Identity{}, err
	}
	if err := verifySignature(h.Alg, key, []byte(parts[0]+"."+parts[1]), sig); err != nil {
		return Identity{}, err
	}

	// Signature good: now the claims.
	if err := checkAudience(claims["aud"], v.cfg.Audience); err != nil {
		return Identity{}, err
	}
	exp, err := numericDate(claims, "exp", true)
	if err != nil {
		return Identity{}, err
	}
	iat, err := numericDate(claims, "iat", true)
	if err != nil {
		return Identity{}, err
	}
	nbf, err := numericDate(claims, "nbf", false)
	if err != nil {
		return Identity{}, err
	}
	if now.After(exp.Add(TokenLeeway)) {
		return Identity{}, refused("oidc: token expired at %s (server time %s)", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !nbf.IsZero() && nbf.After(now.Add(TokenLeeway)) {
		return Identity{}, refused("oidc: token is not valid before %s (server time %s)", nbf.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if iat.After(now.Add(TokenLeeway)) {
		return Identity{}, refused("oidc: token was issued in the future, at %s (server time %s)", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	maxLife := MaxTokenLifetime
	if provider == ProviderAzure {
		maxLife = MaxAzureTokenLifetime
	}
	if life := exp.Sub(now); life > maxLife+TokenLeeway {
		return Identity{}, refused("oidc: token is valid for another %s; expected at most %s (ask the platform for a shorter-lived token)", life.Round(time.Second), maxLife)
	}
	var sub string
	if err := json.Unmarshal(claims["sub"], &sub); err != nil || sub == "" {
		return Identity{}, refused("oidc: token has no sub claim (a string)")
	}

	flat := map[string]string{}
	for k, raw := range claims {
		if s, ok := claimText(raw); ok {
			flat[k] = s
		}
	}
	subject := iss + "#" + sub
	pool, ok := v.cfg.MatchToken(provider, iss, sub, flat)
	if !ok {
		return Identity{}, noPool(subject)
	}
	expires := now.Add(MaxSessionLifetime)
	if exp.Before(expires) {
		expires = exp
	}
	return v.withPool(Identity{Kind: KindOIDC, Subject: subject, Expires: expires}, pool), nil
}

func checkAlg(alg string) error {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA":
		return nil
	case "", "none", "None", "NONE":
		return refused("oidc: token is unsigned (alg %s); expected RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA", quote(alg))
	case "HS256", "HS384", "HS512":
		return refused("oidc: token uses HMAC (%s), a shared secret; expected an asymmetric algorithm (RS256, ES256, EdDSA...)", alg)
	}
	return refused("oidc: token algorithm %s is not allowed; expected RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA", quote(alg))
}

// claimText is a claim's value as pools compare it: a string as is, a
// boolean or number as its JSON text. Objects, arrays and null have none.
func claimText(raw json.RawMessage) (string, bool) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "", false
	}
	switch raw[0] {
	case '"':
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return "", false
		}
		return s, true
	case 't', 'f', '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if string(raw) == "true" || string(raw) == "false" {
			return string(raw), true
		}
		if _, err := strconv.ParseFloat(string(raw), 64); err == nil {
			return string(raw), true
		}
	}
	return "", false
}

func checkAudience(raw json.RawMessage, want string) error {
	var auds []string
	var one string
	switch {
	case len(raw) == 0:
		return refused("oidc: token has no aud claim; expected %s", quote(want))
	case json.Unmarshal(raw, &one) == nil:
		auds = []string{one}
	case json.Unmarshal(raw, &auds) == nil:
	default:
		return refused("oidc: token's aud is neither a string nor a list of strings")
	}
	for _, a := range auds {
		if a == want {
			return nil
		}
	}
	shown := make([]string, 0, min(len(auds), 4))
	for _, a := range auds[:min(len(auds), 4)] {
		shown = append(shown, quote(a))
	}
	return refused("oidc: token audience [%s]; expected %s (ask the platform for a token for this audience)", strings.Join(shown, ", "), quote(want))
}

func numericDate(claims map[string]json.RawMessage, name string, required bool) (time.Time, error) {
	raw, ok := claims[name]
	if !ok {
		if required {
			return time.Time{}, refused("oidc: token has no %s claim", name)
		}
		return time.Time{}, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || f < 0 || f > 1e11 {
		return time.Time{}, refused("oidc: token's %s is not a NumericDate (seconds since 1970)", name)
	}
	return time.Unix(int64(f), 0), nil
}

func verifySignature(alg string, key *jwk, input, sig []byte) error {
	if key.alg != "" && key.alg != alg {
		return refused("oidc: token alg %s but the issuer's key %s is for %s", alg, quote(key.kid), key.alg)
	}
	bad := refused("oidc: token signature does not verify with the issuer's key %s", quote(key.kid))
	digest := func(h crypto.Hash) []byte {
		switch h {
		case crypto.SHA384:
			s := sha512.Sum384(input)
			return s[:]
		case crypto.SHA512:
			s := sha512.Sum512(input)
			return s[:]
		}
		s := sha256.Sum256(input)
		return s[:]
	}
	mismatch := refused("oidc: token alg %s does not fit the issuer's key %s", alg, quote(key.kid))
	switch alg {
	case "RS256", "RS384", "RS512", "PS256":
		pub, ok := key.pub.(*rsa.PublicKey)
		if !ok {
			return mismatch
		}
		var err error
		switch alg {
		case "RS256":
			err = rsa.VerifyPKCS1v15(pub, crypto.SHA256, digest(crypto.SHA256), sig)
		case "RS384":
			err = rsa.VerifyPKCS1v15(pub, crypto.SHA384, digest(crypto.SHA384), sig)
		case "RS512":
			err = rsa.VerifyPKCS1v15(pub, crypto.SHA512, digest(crypto.SHA512), sig)
		case "PS256":
			err = rsa.VerifyPSS(pub, crypto.SHA256, digest(crypto.SHA256), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
		}
		if err != nil {
			return bad
		}
	case "ES256", "ES384":
		pub, ok := key.pub.(*ecdsa.PublicKey)
		if !ok {
			return mismatch
		}
		size, h := 32, crypto.SHA256
		if alg == "ES384" {
			size, h = 48, crypto.SHA384
		}
		if pub.Curve.Params().BitSize != size*8 {
			return mismatch
		}
		if len(sig) != 2*size {
			return bad
		}
		r, s := new(big.Int).SetBytes(sig[:size]), new(big.Int).SetBytes(sig[size:])
		if !ecdsa.Verify(pub, digest(h), r, s) {
			return bad
		}
	case "EdDSA":
		pub, ok := key.pub.(ed25519.PublicKey)
		if !ok {
			return mismatch
		}
		if !ed25519.Verify(pub, input, sig) {
			return bad
		}
	default:
		return mismatch
	}
	return nil
}

// jwk is a public signing key from a JWKS.
type jwk struct {
	kid string
	alg string // "" when the JWKS does not restrict it
	pub crypto.PublicKey
}

// issuerEntry caches one issuer's keys. Its mutex serialises refreshes so
// concurrent verifications share one fetch.
type issuerEntry struct {
	mu        sync.Mutex
	keys      map[string]*jwk
	fetchedAt time.Time
}

// signingKey finds the issuer's key kid, fetching discovery and JWKS when
// the cache is empty or stale, or (at most once a minute) when kid is
// unknown, as after a key rotation.
func (v *Verifier) signingKey(ctx context.Context, iss, kid, alg string, now time.Time) (*jwk, error) {
	v.mu.Lock()
	e, ok := v.issuers[iss]
	if !ok {
		e = &issuerEntry{}
		v.issuers[iss] = e
	}
	v.mu.Unlock()

	e.mu.Lock()
	defer e.mu.Unlock()
	fresh := e.keys != nil && now.Sub(e.fetchedAt) < OIDCCacheTTL && !now.Before(e.fetchedAt)
	if k, ok := e.keys[kid]; ok && fresh {
		return k, nil
	}
	if fresh && now.Sub(e.fetchedAt) < jwksRefreshInterval {
		return nil, refused("oidc: the issuer %s has no key %s", quote(iss), quote(kid))
	}
	keys, err := v.fetchKeys(ctx, iss)
	if err != nil {
		return nil, err
	}
	e.keys, e.fetchedAt = keys, now
	if k, ok := keys[kid]; ok {
		return k, nil
	}
	return nil, refused("oidc: the issuer %s has no key %s", quote(iss), quote(kid))
}

func (v *Verifier) fetchKeys(ctx context.Context, iss string) (map[string]*jwk, error) {
	discoveryURL := strings.TrimSuffix(iss, "/") + "/.well-known/openid-configuration"
	body, err := v.getJSON(ctx, discoveryURL, "discovery document")
	if err != nil {
		return nil, err
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return nil, unavailable("oidc: the discovery document at %s is not a JSON object", discoveryURL)
	}
	if doc.Issuer != iss {
		return nil, unavailable("oidc: the discovery document at %s names issuer %s; expected %s", discoveryURL, quote(doc.Issuer), quote(iss))
	}
	if err := checkJWKSURI(iss, doc.JWKSURI); err != nil {
		return nil, err
	}
	body, err = v.getJSON(ctx, doc.JWKSURI, "JWKS")
	if err != nil {
		return nil, err
	}
	return parseJWKS(body, doc.JWKSURI)
}

func (v *Verifier) getJSON(ctx context.Context, u, what string) ([]byte, error) {
	resp, err := v.fetch.Fetch(ctx, HTTPRequest{Method: "GET", URL: u, Header: map[string][]string{"Accept": {"application/json"}}})
	if err != nil {
		return nil, unavailable("oidc: fetching the %s at %s: %v", what, u, err)
	}
	if resp.Status != 200 {
		return nil, unavailable("oidc: the %s at %s answered %d; expected 200 (redirects are not followed)", what, u, resp.Status)
	}
	if len(resp.Body) > maxResponseBody {
		return nil, unavailable("oidc: the %s at %s is %d bytes or more; expected at most %d", what, u, len(resp.Body), maxResponseBody)
	}
	mt, _, _ := mime.ParseMediaType(headerValue(resp.Header, "Content-Type"))
	if mt != "application/json" && mt != "application/jwk-set+json" {
		return nil, unavailable("oidc: the %s at %s is %s; expected application/json", what, u, quote(headerValue(resp.Header, "Content-Type")))
	}
	if err := checkJSON(resp.Body); err != nil {
		return nil, unavailable("oidc: the %s at %s: %v", what, u, err)
	}
	return resp.Body, nil
}

// checkJWKSURI holds the jwks_uri to the issuer's rules: https (or http
// when the issuer itself is loopback http), no user info, query-free, on
// the issuer's host or a host the provider documents.
func checkJWKSURI(iss, raw string) error {
	if err := asciiURL(raw); err != nil {
		return unavailable("oidc: jwks_uri: %v", err)
	}
	iu, _ := url.Parse(iss) // checked by LoadConfig
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return unavailable("oidc: jwks_uri %s of %s is not a URL", quote(raw), quote(iss))
	}
	if u.User != nil || u.Fragment != "" {
		return unavailable("oidc: jwks_uri %s of %s has user info or a fragment", quote(raw), quote(iss))
	}
	if u.Scheme != iu.Scheme || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopbackHost(u.Hostname()))) {
		return unavailable("oidc: jwks_uri %s of %s; expected https (http only for a loopback issuer)", quote(raw), quote(iss))
	}
	if strings.EqualFold(u.Host, iu.Host) {
		return nil
	}
	for _, h := range knownJWKSHosts[strings.ToLower(iu.Hostname())] {
		if strings.EqualFold(u.Host, h) {
			return nil
		}
	}
	return unavailable("oidc: jwks_uri %s is not on the issuer's host %s", quote(raw), quote(iu.Host))
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
		// ecdh validates that the point is on the curve.
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
