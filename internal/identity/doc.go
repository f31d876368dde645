// Package identity verifies agents' workload-identity proofs and maps the
// proven identity to an agent pool. Agents hold no Airlock secret: an AWS
// agent proves itself with a signed (never sent) sts:GetCallerIdentity
// request carrying a single-use challenge from the control plane; a GCP,
// Azure, Kubernetes or GitHub Actions agent with an OIDC token its platform
// issued for our audience.
//
// The package builds for js/wasm (the edge) and natively. It does no I/O of
// its own: HTTP goes through a Fetcher the caller provides, which must not
// follow redirects. It starts no timers either (a parked Go timer breaks a
// long-lived Go instance on Workers); timeouts belong to the Fetcher.
//
// # Trust model
//
// The edge holds no cloud credential and trusts exactly two things: the
// pools file (trust as code, reviewed in git; see LoadConfig) and TLS to
// the identity providers it names.
//
// AWS. The agent signs GetCallerIdentity with its short-lived role
// credentials; the signature covers the X-Airlock-Challenge header, so
// the proof answers one challenge and cannot be replayed on another
// connection (the caller consumes challenges; Verify checks the one it is
// given). The edge does not trust the agent's request: it rebuilds it from
// parts it controls — POST, an allow-listed STS host (exact names; the
// default list holds only AWS's own hosts), path "/", no query, the fixed
// body — and forwards only allow-listed headers, so a proof cannot make the
// edge call anything but STS's GetCallerIdentity. STS, not the edge, checks
// the signature; the edge believes only STS's answer (status 200, a small,
// strictly parsed document with a non-empty Arn and matching Account) and
// never follows a redirect. An assumed-role ARN is canonicalised to its
// role: the session name is chosen by whoever assumes the role and grants
// nothing. Roles are matched by partition, account and name (role names
// are unique in an account, and assumed-role ARNs carry no path).
//
// OIDC. The token is verified by internal/oidcjwt (shared with the users'
// ID tokens of edge/sessions), with the standard library: compact JWS
// only, an asymmetric algorithm from an allow-list (never none or HMAC),
// the key by kid from the issuer's JWKS, found through the issuer's
// discovery document. Issuers are pinned: a token whose iss no pool names
// is refused before anything is fetched, so a proof cannot make the edge
// fetch arbitrary URLs. The audience must be ours, exp/nbf/iat hold within
// a 60 s leeway, and the remaining lifetime is capped (MaxTokenLifetime,
// longer for Azure managed identities, whose tokens live for a day). A
// platform token is a bearer token: the challenge binds the proof to a
// connection, not the token, so its short lifetime is what limits replay.
//
// Either way the connection never outlives the credentials: Identity.Expires
// is the earlier of the credentials' expiry and MaxSessionLifetime, and the
// agent must prove itself again before then. Errors say what was wrong
// with the proof, never what the pools contain.
package identity
