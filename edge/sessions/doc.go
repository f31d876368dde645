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
//     state, a nonce and a PKCE verifier (256 random bits each) and seals
//     the attempt {provider, state, nonce, verifier, return_to, expiry
//     (LoginTTL)} into the login cookie (__Host-airlock_login), which so
//     binds it to this browser. It stores nothing: anyone may start
//     sign-ins, and no amount of them fills the storage or locks anyone
//     out. It answers 302 to the provider's authorization_endpoint with
//     response_type=code, state, nonce and code_challenge=S256(verifier).
//  2. The person signs in at the provider, which redirects the browser to
//     {public_url}/auth/callback?code&state[&iss].
//  3. The callback opens the login cookie (anything not sealed by us for
//     a login is refused like a missing cookie), checks its expiry,
//     compares the state with the sealed one in constant time (so a
//     stranger's state, or another tab's cookie, changes nothing) and
//     refuses a state already used. It checks the RFC 9207 iss against
//     the sealed provider (mix-up defence), exchanges the code with the
//     sealed verifier at the token endpoint, and verifies the ID token
//     with internal/oidcjwt: iss exactly the attempt's provider, aud
//     holding our client_id (azp too when present), the provider's key,
//     exp/iat/nbf, and the sealed nonce. The provider's allow rules map
//     the person to a user (id "provider#sub") with role admin or member.
//  4. Only now is anything written: in one transaction the state's hash
//     is recorded as used (until the cookie would have expired; if it
//     already is, a concurrent copy of this callback won and this one is
//     refused) and a new session is created (a session cookie the browser
//     sent is never reused: fixation). The answer is a small page that
//     sets the session cookie, clears the login cookie and moves on to
//     return_to. Replaying the callback fails on the used state (and the
//     provider refuses a used code anyway).
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
// user code, the verification URI and a device_request handle: the
// device code sealed with the provider, the poll interval and the expiry,
// so the CLI never sees the device code and nothing is stored. POST
// /auth/device/token {"device_request"} opens the handle (anything else
// is "unknown"), refuses an expired or used one without asking the
// provider, and polls the provider once; authorization_pending,
// slow_down, expired_token and access_denied are passed through (400).
// The edge does not rate-limit polls itself (that would need state per
// anonymous request): the provider's own slow_down is passed through with
// the interval raised by 5 s. Success verifies the ID token (no nonce in
// this flow) and, in one transaction, records the handle's hash as used
// and creates a cli session.
//
// # Sealing
//
// A sign-in in progress is sealed with AES-256-GCM under a key derived,
// per message, from a 256-bit master key only this object holds (made
// from crypto/rand on first use, kept in table keys); the additional data
// names the purpose ("airlock login v1", "airlock device v1"), so a login
// cookie never opens as a device handle. Deleting the key row rotates the
// key: sign-ins in progress fail and start again, sessions are untouched.
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
// user, kind, created, last seen, absolute expiry, user agent); the
// sealing key; and, for replay defence, finished sign-ins (SHA-256 of the
// state or of the device_request handle, with the expiry of the sealed
// attempt, after which Sweep deletes it). Sign-ins in progress are not
// stored: only a person who signed in at the provider makes a row. No
// access, refresh or ID token is kept.
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
