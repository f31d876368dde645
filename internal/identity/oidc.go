package identity

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/airlockci/airlock/internal/oidcjwt"
)

// OIDCCacheTTL is how long an issuer's discovery document and JWKS are
// used before being fetched again.
const OIDCCacheTTL = oidcjwt.CacheTTL

func (v *Verifier) verifyOIDC(ctx context.Context, p *Proof, now time.Time) (Identity, error) {
	provider := p.OIDC.Provider
	t, err := oidcjwt.Parse(p.OIDC.Token)
	if err != nil {
		return Identity{}, jwtError(err)
	}
	// Pinning comes before any fetch: a token cannot make us fetch a URL
	// no pool names.
	if !v.cfg.pinned(t.Issuer) {
		return Identity{}, refused("oidc: issuer %s is not trusted by any pool", quote(t.Issuer))
	}
	if err := v.issuers.VerifySignature(ctx, t, now); err != nil {
		return Identity{}, jwtError(err)
	}
	maxLife := MaxTokenLifetime
	if provider == ProviderAzure {
		maxLife = MaxAzureTokenLifetime
	}
	if err := t.CheckClaims(now, oidcjwt.Expect{Audience: v.cfg.Audience, MaxLifetime: maxLife, Leeway: TokenLeeway}); err != nil {
		return Identity{}, jwtError(err)
	}

	flat := map[string]string{}
	for k, raw := range t.Claims {
		if s, ok := claimText(raw); ok {
			flat[k] = s
		}
	}
	subject := t.Issuer + "#" + t.Subject
	pool, ok := v.cfg.MatchToken(provider, t.Issuer, t.Subject, flat)
	if !ok {
		return Identity{}, noPool(subject)
	}
	expires := now.Add(MaxSessionLifetime)
	if t.Expires.Before(expires) {
		expires = t.Expires
	}
	return v.withPool(Identity{Kind: KindOIDC, Subject: subject, Expires: expires}, pool), nil
}

// jwtError puts an oidcjwt error under this package's sentinels.
func jwtError(err error) error {
	var je *oidcjwt.Error
	if errors.As(err, &je) {
		if je.Unavailable {
			return unavailable("%s", je.Msg)
		}
		return refused("%s", je.Msg)
	}
	return err
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
