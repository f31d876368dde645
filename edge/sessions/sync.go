package sessions

import "net/url"

// NeedsFetch reports whether serving req may wait on the identity provider
// (sign-in and device routes, under /auth/). Every other request is served
// without an outbound fetch, so a caller may answer it synchronously, which
// spares the common path (checking a session) a promise and a goroutine.
func NeedsFetch(req Request) bool {
	u, err := url.Parse(req.URL)
	if err != nil {
		return false
	}
	return len(u.Path) >= 6 && u.Path[:6] == "/auth/"
}
