package devstack

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/airlockci/airlock/internal/cliauth"
	"github.com/airlockci/airlock/internal/devidp"
)

// DevProvider is the provider ID the local control plane knows the
// development identity provider by.
const DevProvider = "dev"

// Identity is the local stand-in for a company's SSO: a real OpenID
// provider (package devidp) with a few test users, registered as the
// control plane's only sign-in provider. alice is an admin (group
// airlock-admins), bob a member; mallory's domain is not allowed.
type Identity struct {
	IdP       *devidp.Provider
	PublicURL string
}

// StartIdentity starts the development provider for the control plane that
// will be served at publicURL (its callback is the only redirect URI).
func StartIdentity(publicURL string) (*Identity, error) {
	idp, err := devidp.Start(devidp.Options{RedirectURIs: []string{publicURL + "/auth/callback"}})
	if err != nil {
		return nil, fmt.Errorf("devstack: identity provider: %w", err)
	}
	return &Identity{IdP: idp, PublicURL: publicURL}, nil
}

// Close stops the provider.
func (i *Identity) Close() error { return i.IdP.Close() }

// SSO is the control plane's sign-in configuration (.airlock/sso.yml's
// shape) for the development provider.
func (i *Identity) SSO(publicURL string) string {
	return fmt.Sprintf(`public_url: %s
sessions:
  idle_timeout: 8h
  absolute_lifetime: 24h
providers:
  - id: %s
    name: Development SSO
    issuer: %s
    client_id: %s
    scopes: [openid, email, profile, groups]
    allow:
      email_domains: [example.com]
    admins:
      groups: [airlock-admins]
`, publicURL, DevProvider, i.IdP.Issuer(), devidp.DefaultClientID)
}

// SignInCLI signs a CLI in to the control plane at server as username,
// approving the device code at the provider itself (no person needed), and
// returns the session token.
func (i *Identity) SignInCLI(ctx context.Context, server, username string) (string, error) {
	c := &http.Client{Timeout: 30 * time.Second}
	d, err := cliauth.Start(ctx, c, server, DevProvider)
	if err != nil {
		return "", fmt.Errorf("devstack: sign-in as %s: %w", username, err)
	}
	if err := i.IdP.ApproveDevice(d.UserCode, username); err != nil {
		return "", fmt.Errorf("devstack: approving the sign-in of %s: %w", username, err)
	}
	s, err := d.Wait(ctx)
	if err != nil {
		return "", fmt.Errorf("devstack: sign-in as %s: %w", username, err)
	}
	return s.Token, nil
}

// Password is a development user's password (see package devidp).
func Password(username string) string { return devidp.DefaultPassword(username) }
