package sessions

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// A session token is "<id>.<secret>": id is 96 random bits and secret 256,
// each base64url without padding (16 and 43 characters). The id names the
// record (it is shown in session lists and used to end a session); the
// secret proves possession and is never stored, only its SHA-256.
const (
	idBytes     = 12
	secretBytes = 32
	idLen       = 16 // base64.RawURLEncoding.EncodedLen(idBytes)
	secretLen   = 43 // base64.RawURLEncoding.EncodedLen(secretBytes)
	tokenLen    = idLen + 1 + secretLen
)

var b64 = base64.RawURLEncoding.Strict()

// randomString is n CSPRNG bytes in base64url.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	return b64.EncodeToString(b)
}

// newToken returns a fresh session token, its id and the hash to store.
func newToken() (token, id string, secretHash []byte) {
	id = randomString(idBytes)
	secret := make([]byte, secretBytes)
	if _, err := rand.Read(secret); err != nil {
		panic(fmt.Sprintf("crypto/rand: %v", err))
	}
	h := sha256.Sum256(secret)
	return id + "." + b64.EncodeToString(secret), id, h[:]
}

var errMalformedToken = errors.New("malformed session token; expected <id>.<secret> as issued at sign-in")

// parseToken splits a token strictly: exactly tokenLen characters, the
// base64url alphabet, canonical encodings, one dot in place.
func parseToken(s string) (id string, secret []byte, err error) {
	if len(s) != tokenLen || s[idLen] != '.' {
		return "", nil, errMalformedToken
	}
	id, sec := s[:idLen], s[idLen+1:]
	if !validID(id) {
		return "", nil, errMalformedToken
	}
	secret, err = b64.DecodeString(sec)
	if err != nil || len(secret) != secretBytes {
		return "", nil, errMalformedToken
	}
	return id, secret, nil
}

// validID reports whether s is a session id as issued (16 base64url
// characters, canonical).
func validID(s string) bool {
	if len(s) != idLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isB64(s[i]) {
			return false
		}
	}
	raw, err := b64.DecodeString(s)
	return err == nil && len(raw) == idBytes
}

func isB64(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
}

// secretMatches compares SHA-256(secret) with the stored hash in constant
// time.
func secretMatches(secret, stored []byte) bool {
	h := sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(h[:], stored) == 1
}

// hashKey is the hex SHA-256 of a state or a device_request handle, the
// key a finished sign-in is recorded under for replay defence.
func hashKey(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}

// cookieValues returns the values of every cookie called name in a Cookie
// header ("a=1; b=2"). Values are returned as sent (no unquoting: our
// values never need quotes).
func cookieValues(header, name string) []string {
	var out []string
	for _, part := range strings.Split(header, ";") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok && k == name {
			out = append(out, v)
		}
	}
	return out
}

// singleCookie is the one value of cookie name: "" when absent, an error
// when sent more than once (a cookie-tossing attempt or a confused
// browser; we do not guess which one is ours).
func singleCookie(header, name string) (string, error) {
	vs := cookieValues(header, name)
	switch len(vs) {
	case 0:
		return "", nil
	case 1:
		if vs[0] == "" {
			return "", nil
		}
		return vs[0], nil
	}
	return "", fmt.Errorf("the request carries %d %s cookies; expected one", len(vs), name)
}

// sessionCookie builds the Set-Cookie value for a browser session: Strict,
// so that no cross-site request carries it (see the package doc for why
// the callback answers with a page rather than a redirect).
func sessionCookie(token string, maxAge int64) string {
	return fmt.Sprintf("%s=%s; Path=/; Max-Age=%d; HttpOnly; Secure; SameSite=Strict", SessionCookie, token, maxAge)
}

func clearSessionCookie() string {
	return SessionCookie + "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
}

// loginCookieValue carries the sealed sign-in in progress and so binds it
// to the browser that started it. Lax, not Strict: the identity
// provider's redirect back to /auth/callback is a cross-site top-level
// GET, which carries Lax cookies and not Strict ones.
func loginCookieValue(sealed string) string {
	return fmt.Sprintf("%s=%s; Path=/; Max-Age=%d; HttpOnly; Secure; SameSite=Lax", LoginCookie, sealed, int64(LoginTTL/1e9))
}

func clearLoginCookie() string {
	return LoginCookie + "=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Lax"
}
