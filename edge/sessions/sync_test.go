package sessions

import "testing"

func TestNeedsFetch(t *testing.T) {
	for url, want := range map[string]bool{
		"https://ci.example.com/auth/login?provider=x": true,
		"https://ci.example.com/auth/device/token":     true,
		"https://ci.example.com/v1/me":                 false,
		"https://ci.example.com/v1/runs":               false,
		"https://ci.example.com/authx":                 false,
		"https://ci.example.com/auth":                  false,
		"%zz":                                          false,
	} {
		if got := NeedsFetch(Request{Method: "GET", URL: url}); got != want {
			t.Errorf("NeedsFetch(%q): got %v, want %v", url, got, want)
		}
	}
}
