package identity

import (
	"strings"
	"testing"
)

// FuzzJWTExpiry: reading exp from whatever a metadata service or token file
// holds never panics, and an error never quotes the input.
func FuzzJWTExpiry(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjE3MDAwMDAwMDB9.c2ln")
	f.Add("a.eyJleHAiOiIxIn0.c")
	f.Add("a.eyJleHAiOjFlMzAwfQ.c")
	f.Add("..")
	f.Add("")
	f.Fuzz(func(t *testing.T, token string) {
		exp, err := jwtExpiry(token)
		if err != nil {
			if len(token) >= 8 && strings.Contains(err.Error(), token) {
				t.Errorf("error %q quotes the token", err)
			}
			return
		}
		if exp <= 0 {
			t.Errorf("exp %d accepted, want positive", exp)
		}
	})
}
