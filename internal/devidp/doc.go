// Package devidp is a real OpenID Connect provider for local development
// and tests: `make demo`, `airlock dev` and the end-to-end tests sign
// people and headless clients in through it, so the control plane's OIDC
// code meets a real protocol peer rather than a hand-written fake. It is
// built on github.com/zitadel/oidc/v3/pkg/op (an OpenID-certified
// library); this package supplies only the in-memory storage, the login
// and device pages and the policy below.
//
// DEVELOPMENT ONLY. The users, their passwords and the signing key are
// throw-away; it serves plain http; ApproveDevice signs a user in without
// a password. Never expose it beyond the loopback interface or use it in
// production.
//
// # Lifecycle
//
// Start listens on 127.0.0.1 (a free port unless Options.Port) and serves
// until Close, which stops the server and its goroutine. A fresh RSA 2048
// key (RS256) is made on every Start and published at {issuer}/keys with
// a kid; tokens from an earlier run do not verify. Everything (auth
// requests, codes, access tokens, device authorizations) is in memory and
// safe for concurrent use.
//
// # Why localhost and not 127.0.0.1
//
// The issuer defaults to http://localhost:PORT while the control plane is
// served at http://127.0.0.1:PORT. Browsers treat the two as different
// sites, so the redirect from the provider back to the control plane is a
// cross-site navigation, as it is in production (idp.example.com →
// airlock.example.com). Cookies the control plane set before the redirect
// (state, PKCE verifier) with SameSite=Strict are then not sent on the
// callback, locally too: the bug shows up on a laptop, not first in
// production. Lax cookies do survive the top-level GET redirect, but not
// the cross-site POST of response_mode=form_post.
//
// # Endpoints
//
//	/.well-known/openid-configuration  discovery
//	/keys                              JWKS
//	/authorize                         authorization (code flow only)
//	/oauth/token                       token (authorization_code, device_code)
//	/device_authorization              RFC 8628 device authorization
//	/userinfo                          userinfo
//	/login?authRequestID=…             login page (username, password, "Sign in")
//	/device?user_code=…                device verification page (Approve / Deny)
//
// # Clients
//
// With no Options.Clients there is one public client, "airlock"
// (DefaultClientID), allowed the authorization code and device grants,
// whose redirect URIs are Options.RedirectURIs. A client with a Secret
// authenticates with client_secret_basic; without one it is public
// (token_endpoint_auth_method none). Redirect URIs must match a
// registered one exactly (no loopback port wildcard). Every
// authorization request must carry a PKCE code_challenge with method
// S256; requests without one, or with "plain", are answered with
// invalid_request. prompt=none is answered with login_required (the
// provider keeps no sessions: every authorization shows the login page).
// Authorization responses carry the RFC 9207 "iss" parameter (added by
// this package; zitadel v3.52.0 does not) except with form_post.
//
// Auth requests expire after 10 minutes, codes after 1 minute, device
// authorizations after 5 minutes. A code is redeemed at most once: the
// first token request consumes it even if it then fails (a wrong
// code_verifier, say). Refresh tokens are not issued.
//
// # Users
//
// With no Options.Users, DefaultUsers:
//
//	username    password             email                 verified  name               groups
//	alice       alice-password       alice@example.com     yes       Alice Admin        airlock-admins, eng
//	bob         bob-password         bob@example.com       yes       Bob Builder        eng
//	mallory     mallory-password     mallory@evil.example  yes       Mallory            (none)
//	unverified  unverified-password  carol@example.com     no        Carol Unverified   (none)
//
// A user's password defaults to its username + "-password" and its "sub"
// to SubjectFor(username): opaque, and the same on every start.
//
// # Claims
//
// ID tokens (RS256, valid Options.IDTokenLifetime, default 5 minutes)
// always carry iss, sub, aud (the client ID), azp (the client ID), exp,
// iat, auth_time, amr, at_hash and, when the authorization request had
// one, nonce. Scopes add claims, in the ID token and at userinfo alike:
//
//	email    email, email_verified
//	profile  name, preferred_username
//	groups   groups (a JSON array, possibly empty)
//
// groups is deliberately its own scope, not part of profile, as at most
// real providers that have it.
//
// # Device flow
//
// A client with GrantDeviceCode posts to /device_authorization and polls
// the token endpoint (interval Options.DevicePollInterval, default 1 s;
// the provider does not answer slow_down). A person approves at /device
// with the user code and a password; tests and `make demo` call
// (*Provider).ApproveDevice or DenyDevice instead.
package devidp
