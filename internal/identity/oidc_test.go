package identity_test

import (
	"context"
	"testing"
	"time"

	"github.com/airlockci/airlock/internal/identity"
	"github.com/airlockci/airlock/internal/identity/idtest"
)

func githubClaims(w *world) idtest.Claims {
	return idtest.Claims{
		Subject:  "repo:acme/app:ref:refs/heads/main",
		Audience: []string{audience},
		Extra:    map[string]any{"repository_owner": "acme", "repository": "acme/app", "ref": "refs/heads/main"},
	}
}

func TestOIDCEndToEnd(t *testing.T) {
	w := newWorld(t)
	for _, alg := range []string{"RS256", "PS256", "ES256", "ES384", "EdDSA"} {
		t.Run(alg, func(t *testing.T) {
			c := githubClaims(w)
			c.Alg = alg
			tok := w.iss.MustMint(c)
			id, err := w.v.Verify(context.Background(), oidcProof("github", tok, "c"), "c")
			if err != nil {
				t.Fatal(err)
			}
			if id.Kind != "oidc" || id.Pool != "github" || id.Subject != w.iss.URL()+"#repo:acme/app:ref:refs/heads/main" || id.Tags["queue"] != "gh" {
				t.Errorf("got %+v, want pool github", id)
			}
			if !id.Expires.Equal(w.now.Add(10 * time.Minute)) {
				t.Errorf("got expiry %v, want the token's exp", id.Expires)
			}
		})
	}
	// Audience as an array, and the other provider rules.
	tok := w.iss.MustMint(idtest.Claims{Subject: "system:serviceaccount:ci:agent", Audience: []string{"other", audience}})
	if id, err := w.v.Verify(context.Background(), oidcProof("kubernetes", tok, "c"), "c"); err != nil || id.Pool != "k8s" {
		t.Errorf("kubernetes: got %+v, %v; want pool k8s", id, err)
	}
	tok = w.iss.MustMint(idtest.Claims{Subject: "azure-mi", Audience: []string{audience}, Expiry: w.now.Add(24 * time.Hour)})
	if id, err := w.v.Verify(context.Background(), oidcProof("azure", tok, "c"), "c"); err != nil || id.Pool != "k8s" || !id.Expires.Equal(w.now.Add(time.Hour)) {
		t.Errorf("azure: got %+v, %v; want pool k8s, expiry capped at an hour", id, err)
	}
	// One discovery and one JWKS fetch for all of it.
	if w.iss.DiscoveryRequests() != 1 || w.iss.JWKSRequests() != 1 {
		t.Errorf("got %d discovery and %d JWKS fetches, want 1 each (cached)", w.iss.DiscoveryRequests(), w.iss.JWKSRequests())
	}
}

func TestOIDCBadInput(t *testing.T) {
	w := newWorld(t)
	good := githubClaims(w)
	with := func(edit func(*idtest.Claims)) idtest.Claims {
		c := githubClaims(w)
		c.Extra = map[string]any{"repository_owner": "acme"}
		edit(&c)
		return c
	}
	mint := func(c idtest.Claims) string { return w.iss.MustMint(c) }
	malformed := func(m idtest.Malformation) string {
		tok, err := w.iss.MintMalformed(good, m)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	cases := []struct {
		name     string
		provider string
		token    string
		want     error
		message  string
	}{
		{"wrong audience", "github", mint(with(func(c *idtest.Claims) { c.Audience = []string{"sts.amazonaws.com"} })), identity.ErrRefused, "audience"},
		{"no audience", "github", mint(with(func(c *idtest.Claims) { c.Audience = nil })), identity.ErrRefused, "no aud"},
		{"alg none", "github", malformed(idtest.AlgNone), identity.ErrRefused, "unsigned"},
		{"HMAC", "github", malformed(idtest.HMAC), identity.ErrRefused, "HMAC"},
		{"two signatures", "github", malformed(idtest.TwoSignatures), identity.ErrRefused, "JSON serialization"},
		{"flattened JSON", "github", malformed(idtest.Flattened), identity.ErrRefused, "JSON serialization"},
		{"unknown kid", "github", malformed(idtest.UnknownKey), identity.ErrRefused, "has no key"},
		{"foreign key, known kid", "github", malformed(idtest.ForeignKey), identity.ErrRefused, "does not verify"},
		{"bad signature", "github", malformed(idtest.BadSignature), identity.ErrRefused, "does not verify"},
		{"unpinned issuer", "github", mint(with(func(c *idtest.Claims) { c.Issuer = "https://evil.example.com" })), identity.ErrRefused, "not trusted by any pool"},
		{"lifetime beyond the cap", "github", mint(with(func(c *idtest.Claims) { c.Expiry = w.now.Add(2 * time.Hour) })), identity.ErrRefused, "valid for another 2h0m0s"},
		{"azure beyond its cap", "azure", mint(idtest.Claims{Subject: "azure-mi", Audience: []string{audience}, Expiry: w.now.Add(30 * time.Hour)}), identity.ErrRefused, "valid for another"},
		{"expired", "github", mint(with(func(c *idtest.Claims) { c.Expiry = w.now.Add(-2 * time.Minute) })), identity.ErrRefused, "expired"},
		{"not yet valid", "github", mint(with(func(c *idtest.Claims) { c.NotBefore = w.now.Add(5 * time.Minute) })), identity.ErrRefused, "not valid before"},
		{"issued in the future", "github", mint(with(func(c *idtest.Claims) { c.IssuedAt = w.now.Add(5 * time.Minute) })), identity.ErrRefused, "issued in the future"},
		{"no exp", "github", mint(with(func(c *idtest.Claims) { c.Extra["exp"] = nil })), identity.ErrRefused, "no exp"},
		{"no sub", "github", mint(with(func(c *idtest.Claims) { c.Subject = "" })), identity.ErrRefused, "no sub"},
		{"subject outside the pattern", "github", mint(with(func(c *idtest.Claims) { c.Subject = "repo:acme/other:ref:refs/heads/main" })), identity.ErrNoPool, "repo:acme/other"},
		{"claim mismatch", "github", mint(with(func(c *idtest.Claims) { c.Extra["repository_owner"] = "evil" })), identity.ErrNoPool, "matches no agent pool"},
		{"claim missing", "github", mint(with(func(c *idtest.Claims) { c.Extra = nil })), identity.ErrNoPool, "matches no agent pool"},
		{"claim of another type", "github", mint(with(func(c *idtest.Claims) { c.Extra["repository_owner"] = []string{"acme"} })), identity.ErrNoPool, "matches no agent pool"},
		{"other provider's rule", "kubernetes", mint(good), identity.ErrNoPool, "matches no agent pool"},
		{"not a JWT", "github", "abc", identity.ErrRefused, "3"},
		{"padded base64", "github", mint(good) + "=", identity.ErrRefused, "base64url"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := w.v.Verify(context.Background(), oidcProof(tc.provider, tc.token, "c"), "c")
			wantErr(t, err, tc.want, tc.message)
		})
	}
}

func TestOIDCUnpinnedIssuerFetchesNothing(t *testing.T) {
	w := newWorld(t)
	other, err := idtest.StartIssuer()
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	tok := other.MustMint(idtest.Claims{Subject: "repo:acme/app:x", Audience: []string{audience}, Extra: map[string]any{"repository_owner": "acme"}})
	_, err = w.v.Verify(context.Background(), oidcProof("github", tok, "c"), "c")
	wantErr(t, err, identity.ErrRefused, "not trusted")
	if w.fetch.n != 0 || other.DiscoveryRequests() != 0 {
		t.Errorf("got %d fetches, want none for an unpinned issuer", w.fetch.n)
	}
}

func TestOIDCKeyRotation(t *testing.T) {
	w := newWorld(t)
	ok := func() {
		t.Helper()
		if _, err := w.v.Verify(context.Background(), oidcProof("github", w.iss.MustMint(githubClaims(w)), "c"), "c"); err != nil {
			t.Fatal(err)
		}
	}
	ok()
	if err := w.iss.Rotate(); err != nil {
		t.Fatal(err)
	}
	// Within a minute of the last fetch an unknown kid does not refetch.
	_, err := w.v.Verify(context.Background(), oidcProof("github", w.iss.MustMint(githubClaims(w)), "c"), "c")
	wantErr(t, err, identity.ErrRefused, "has no key")
	w.now = w.now.Add(2 * time.Minute)
	ok()
	if w.iss.JWKSRequests() != 2 {
		t.Errorf("got %d JWKS fetches, want 2", w.iss.JWKSRequests())
	}
	// The cache expires.
	w.now = w.now.Add(identity.OIDCCacheTTL + time.Second)
	ok()
	if w.iss.JWKSRequests() != 3 {
		t.Errorf("got %d JWKS fetches, want 3", w.iss.JWKSRequests())
	}
}

func TestOIDCJWKSURIOffHost(t *testing.T) {
	w := newWorld(t)
	w.iss.SetJWKSURI("http://localhost:1/keys")
	_, err := w.v.Verify(context.Background(), oidcProof("github", w.iss.MustMint(githubClaims(w)), "c"), "c")
	wantErr(t, err, identity.ErrUnavailable, "not on the issuer's host")
}

func TestOIDCIssuerDown(t *testing.T) {
	w := newWorld(t)
	tok := w.iss.MustMint(githubClaims(w))
	_ = w.iss.Close()
	_, err := w.v.Verify(context.Background(), oidcProof("github", tok, "c"), "c")
	wantErr(t, err, identity.ErrUnavailable, "discovery document")
}

func TestVerifyChecksChallengeAndExpiry(t *testing.T) {
	w := newWorld(t)
	tok := w.iss.MustMint(githubClaims(w))
	_, err := w.v.Verify(context.Background(), oidcProof("github", tok, "a"), "b")
	wantErr(t, err, identity.ErrRefused, "another challenge")
	p := oidcProof("github", tok, "a")
	p.ExpiresUnix = w.now.Add(-time.Second).Unix()
	_, err = w.v.Verify(context.Background(), p, "a")
	wantErr(t, err, identity.ErrRefused, "expired")
	_, err = w.v.Verify(context.Background(), &identity.Proof{Kind: "oidc", Challenge: "a"}, "a")
	wantErr(t, err, identity.ErrMalformedProof, "oidc")
}
