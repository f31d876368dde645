// Package oidcjwt verifies compact JWTs signed by OpenID Connect issuers,
// with the standard library only: the agents' workload tokens
// (internal/identity) and users' ID tokens (edge/sessions) go through the
// same code.
//
// What it checks: compact JWS only (never the JSON serialization), strict
// JSON (no duplicate keys), an asymmetric algorithm from an allow-list
// (RS256, RS384, RS512, PS256, ES256, ES384, EdDSA; never none or HMAC), no
// crit, the key by kid from the issuer's JWKS (found through its discovery
// document, whose issuer must match exactly; the jwks_uri on the issuer's
// host over https, http only for a loopback http issuer), RSA keys of at
// least 2048 bits, EC points on their curve; then aud, exp, iat, nbf within
// a leeway, an optional lifetime cap, and sub.
//
// It does no I/O of its own: HTTP goes through a Fetcher the caller
// provides, which must not follow redirects. It starts no timers (a parked
// Go timer breaks a long-lived Go instance on Workers), so it builds for
// js/wasm and is used inside the edge's Durable Objects.
//
// Callers pin issuers: they compare a token's iss with their own
// configuration before Issuers fetches anything.
package oidcjwt
