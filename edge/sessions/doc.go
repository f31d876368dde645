// Package sessions signs people in with their company's OpenID Connect
// provider and keeps stateful, instantly revocable sessions. It is the
// logic of the Sessions Durable Object (one object, "main", with strongly
// consistent SQLite storage); like the scheduler it never touches
// syscall/js or net/http: storage is a DB, outbound HTTP an
// oidcjwt.Fetcher, the clock a func, so it is tested natively.
//
// # Browser sign-in
//
//  1. GET /auth/login?provider=ID&return_to=/path. The Service makes a
//     state, a nonce and a PKCE verifier (256 random bits each), stores
//     the attempt under SHA-256(state) with the provider, nonce, verifier
//     and return_to for LoginTTL, and binds it to this browser with a
//     random login cookie (__Host-airlock_login; only its hash is stored).
//     It answers 302 to the provider's authorization_endpoint with
//     response_type=code, state, nonce and code_challenge=S256(verifier).
//  2. The person signs in at the provider, which redirects the browser to
//     {public_url}/auth/callback?code&state[&iss].
//  3. The callback consumes the attempt exactly once — only when both the
//     state and the login cookie match, so a stranger's state changes
//     nothing — checks the RFC 9207 iss (mix-up defence), exchanges the
//     code with the verifier at the token endpoint, and verifies the ID
//     token with internal/oidcjwt: iss exactly the attempt's provider,
//     aud holding our client_id (azp too when present), the provider's
//     key, exp/iat/nbf, and the nonce. The provider's allow rules map the
//     person to a user (id "provider#sub") with role admin or member.
//  4. A new session is created (a session cookie the browser sent is
//     never reused: fixation) and the answer is a small page that sets
//     the session cookie and moves on to return_to.
//
// # The SameSite trap: why the callback answers 200 with a page
//
// The session cookie is SameSite=Strict: no request started by another
// site carries it, which is the main CSRF defence. But the callback
// request is the last hop of a navigation that started on the identity
// provider's site, so the browser treats it as cross-site — and also the
// next request if the callback answered with a redirect. A Strict cookie
// set on a 302 here would not be sent to return_to; the dashboard would
// see no session and send the person back to sign in, in a loop. So the
// callback answers 200 with a page whose meta refresh (and visible link)
// starts a new, same-origin navigation, which carries the Strict cookie.
// The login cookie is SameSite=Lax for the opposite reason: it must come
// back on the provider's cross-site top-level GET to the callback.
//
// # CLI sign-in
//
// The edge stays the only OAuth client. POST /auth/device {"provider"}
// calls the provider's device_authorization_endpoint and answers with the
// user code, the verification URI and a random device_request handle
// (the device code stays on the server, stored under SHA-256(handle)).
// POST /auth/device/token {"device_request"} polls the provider once;
// authorization_pending, slow_down, expired_token and access_denied are
// passed through (400), and success verifies the ID token (no nonce in
// this flow), creates a cli session and spends the handle.
//
// # Tokens and what is stored
//
// A session token is "<id>.<secret>": id 96 random bits, secret 256, each
// base64url (16 + 1 + 43 characters), parsed strictly. The id names the
// record and is shown in session lists; only SHA-256(secret) is stored,
// compared in constant time, so a copy of the database signs nobody in.
// A browser session is accepted only from the __Host-airlock_session
// cookie (HttpOnly; Secure; SameSite=Strict; Path=/; no Domain), a CLI
// session only from Authorization: Bearer — never from a query parameter.
//
// Stored: users (id, provider, sub, email and whether it is verified,
// name, groups, role, first and last sign-in); sessions (id, secret hash,
// user, kind, created, last seen, absolute expiry, user agent); sign-ins
// in progress (hashes of state and login cookie, provider, nonce, PKCE
// verifier, return_to, expiry); device sign-ins in progress (hash of the
// handle, provider, device code, poll interval, expiry). No access,
// refresh or ID token is kept.
//
// # Every request
//
// Authorize enforces the idle timeout and the absolute lifetime (an
// expired session is deleted and refused with 401), applies the current
// allow rules (a person the configuration no longer allows is signed out
// everywhere), and records last_seen at most once per LastSeenGranularity.
// Revocation — DELETE /v1/sessions/{id}, DELETE /v1/users/{id}/sessions,
// POST /auth/logout — deletes records in the one strongly consistent
// object, so it holds on the very next request everywhere.
//
// CSRF and XSS defence in depth, before any routing: unsafe methods
// (anything but GET and HEAD) marked Sec-Fetch-Site cross-site or
// same-site are refused whatever their credentials; unsafe requests with
// a body must be application/json (415); unsafe requests authenticated by
// the cookie need Sec-Fetch-Site: same-origin or, without it, an Origin
// exactly equal to public_url's. Every answer carries SecurityHeaders.
//
// # Concurrency
//
// The Durable Object may deliver a request while another awaits an
// outbound fetch, so Serve runs on several goroutines: database work is
// serialised by a mutex never held across a fetch, each change is one
// transaction, and bad input changes nothing. Go memory is only a cache
// (the issuers' discovery documents and keys).
package sessions
