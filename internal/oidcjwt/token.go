package oidcjwt

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"time"
)

const (
	// MaxTokenSize caps a JWT; real platform and ID tokens are 1-3 KiB
	// (ID tokens with many groups a few more).
	MaxTokenSize = 12 << 10
	// DefaultLeeway is the clock leeway for exp, nbf and iat when
	// Expect.Leeway is zero.
	DefaultLeeway = 60 * time.Second
)

var b64 = base64.RawURLEncoding.Strict()

// Token is a compact JWS whose shape Parse checked. Its signature is
// checked by Issuers.VerifySignature and its registered claims by
// CheckClaims; until both succeeded nothing in it may be trusted.
type Token struct {
	Alg, Kid string
	// Issuer is the iss claim (a non-empty string).
	Issuer string
	// Claims are the top-level claims, undecoded.
	Claims map[string]json.RawMessage

	// Set by CheckClaims.
	Subject   string
	Audiences []string
	Expires   time.Time
	IssuedAt  time.Time

	signingInput []byte
	signature    []byte
}

type jwtHeader struct {
	Alg  string          `json:"alg"`
	Kid  string          `json:"kid"`
	Typ  string          `json:"typ"`
	Crit json.RawMessage `json:"crit"`
}

// Parse checks a compact JWT's shape: three base64url parts, a strict
// JSON header with an allowed asymmetric alg, a kid and no crit, a
// non-empty signature, and strict JSON claims with a string iss. It checks
// no signature and no claim beyond iss.
func Parse(tok string) (*Token, error) {
	if len(tok) > MaxTokenSize {
		return nil, refused("oidc: token is %d bytes; expected at most %d", len(tok), MaxTokenSize)
	}
	if strings.HasPrefix(strings.TrimSpace(tok), "{") {
		return nil, refused("oidc: token is a JWS JSON serialization; expected a compact JWT (header.payload.signature)")
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, refused("oidc: token has %d parts; expected a compact JWT with 3 (header.payload.signature)", len(parts))
	}
	rawHeader, err := b64.DecodeString(parts[0])
	if err != nil {
		return nil, refused("oidc: token header is not base64url: %v", err)
	}
	rawClaims, err := b64.DecodeString(parts[1])
	if err != nil {
		return nil, refused("oidc: token payload is not base64url: %v", err)
	}
	sig, err := b64.DecodeString(parts[2])
	if err != nil {
		return nil, refused("oidc: token signature is not base64url: %v", err)
	}
	if err := CheckJSON(rawHeader); err != nil {
		return nil, refused("oidc: token header: %v", err)
	}
	var h jwtHeader
	if err := json.Unmarshal(rawHeader, &h); err != nil {
		return nil, refused("oidc: token header is not a JSON object: %v", err)
	}
	if err := checkAlg(h.Alg); err != nil {
		return nil, err
	}
	if len(h.Crit) > 0 {
		return nil, refused("oidc: token header has crit extensions; none are supported")
	}
	if h.Kid == "" {
		return nil, refused("oidc: token header has no kid; expected the id of the issuer's signing key")
	}
	if len(sig) == 0 {
		return nil, refused("oidc: token is unsigned")
	}
	if err := CheckJSON(rawClaims); err != nil {
		return nil, refused("oidc: token claims: %v", err)
	}
	var claims map[string]json.RawMessage
	if err := json.Unmarshal(rawClaims, &claims); err != nil || claims == nil {
		return nil, refused("oidc: token claims are not a JSON object")
	}
	var iss string
	if err := json.Unmarshal(claims["iss"], &iss); err != nil || iss == "" {
		return nil, refused("oidc: token has no iss claim (a string)")
	}
	return &Token{
		Alg: h.Alg, Kid: h.Kid, Issuer: iss, Claims: claims,
		signingInput: []byte(parts[0] + "." + parts[1]), signature: sig,
	}, nil
}

func checkAlg(alg string) error {
	switch alg {
	case "RS256", "RS384", "RS512", "PS256", "ES256", "ES384", "EdDSA":
		return nil
	case "", "none", "None", "NONE":
		return refused("oidc: token is unsigned (alg %s); expected RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA", Quote(alg))
	case "HS256", "HS384", "HS512":
		return refused("oidc: token uses HMAC (%s), a shared secret; expected an asymmetric algorithm (RS256, ES256, EdDSA...)", alg)
	}
	return refused("oidc: token algorithm %s is not allowed; expected RS256, RS384, RS512, PS256, ES256, ES384 or EdDSA", Quote(alg))
}

// Expect is what CheckClaims requires of a token's registered claims.
type Expect struct {
	// Audience must be one of the token's aud values.
	Audience string
	// MaxLifetime caps exp minus now; 0: no cap.
	MaxLifetime time.Duration
	// Leeway for exp, nbf and iat; 0: DefaultLeeway.
	Leeway time.Duration
}

// CheckClaims checks aud, exp, iat (both required), nbf (optional), the
// remaining lifetime and sub (a non-empty string), and fills in Subject,
// Audiences, Expires and IssuedAt. Call it only after the signature
// verified.
func (t *Token) CheckClaims(now time.Time, e Expect) error {
	leeway := e.Leeway
	if leeway == 0 {
		leeway = DefaultLeeway
	}
	auds, err := checkAudience(t.Claims["aud"], e.Audience)
	if err != nil {
		return err
	}
	exp, err := numericDate(t.Claims, "exp", true)
	if err != nil {
		return err
	}
	iat, err := numericDate(t.Claims, "iat", true)
	if err != nil {
		return err
	}
	nbf, err := numericDate(t.Claims, "nbf", false)
	if err != nil {
		return err
	}
	if now.After(exp.Add(leeway)) {
		return refused("oidc: token expired at %s (server time %s)", exp.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if !nbf.IsZero() && nbf.After(now.Add(leeway)) {
		return refused("oidc: token is not valid before %s (server time %s)", nbf.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if iat.After(now.Add(leeway)) {
		return refused("oidc: token was issued in the future, at %s (server time %s)", iat.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))
	}
	if e.MaxLifetime > 0 {
		if life := exp.Sub(now); life > e.MaxLifetime+leeway {
			return refused("oidc: token is valid for another %s; expected at most %s (ask the platform for a shorter-lived token)", life.Round(time.Second), e.MaxLifetime)
		}
	}
	sub, ok := t.String("sub")
	if !ok || sub == "" {
		return refused("oidc: token has no sub claim (a string)")
	}
	t.Subject, t.Audiences, t.Expires, t.IssuedAt = sub, auds, exp, iat
	return nil
}

// String is claim name as a string; false when absent or not a string.
func (t *Token) String(name string) (string, bool) {
	raw, ok := t.Claims[name]
	if !ok {
		return "", false
	}
	var s string
	if json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// Bool is claim name as a boolean; false when absent or not a boolean.
// (Some providers send email_verified as the string "true"; that counts.)
func (t *Token) Bool(name string) bool {
	raw := bytes.TrimSpace(t.Claims[name])
	return string(raw) == "true" || string(raw) == `"true"`
}

// Strings is claim name as a list of strings: a string is a list of one;
// anything else, or a list with a non-string, is none.
func (t *Token) Strings(name string) []string {
	raw, ok := t.Claims[name]
	if !ok {
		return nil
	}
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return []string{one}
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		return many
	}
	return nil
}

func checkAudience(raw json.RawMessage, want string) ([]string, error) {
	var auds []string
	var one string
	switch {
	case len(raw) == 0:
		return nil, refused("oidc: token has no aud claim; expected %s", Quote(want))
	case json.Unmarshal(raw, &one) == nil:
		auds = []string{one}
	case json.Unmarshal(raw, &auds) == nil:
	default:
		return nil, refused("oidc: token's aud is neither a string nor a list of strings")
	}
	for _, a := range auds {
		if a == want {
			return auds, nil
		}
	}
	shown := make([]string, 0, min(len(auds), 4))
	for _, a := range auds[:min(len(auds), 4)] {
		shown = append(shown, Quote(a))
	}
	return nil, refused("oidc: token audience [%s]; expected %s (ask the platform for a token for this audience)", strings.Join(shown, ", "), Quote(want))
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
		return refused("oidc: token alg %s but the issuer's key %s is for %s", alg, Quote(key.kid), key.alg)
	}
	bad := refused("oidc: token signature does not verify with the issuer's key %s", Quote(key.kid))
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
	mismatch := refused("oidc: token alg %s does not fit the issuer's key %s", alg, Quote(key.kid))
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
