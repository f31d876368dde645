package secheaders

import (
	"strings"
	"testing"
)

func TestHeaders(t *testing.T) {
	h := map[string]string{"content-type": "application/json", "cache-control": "max-age=60"}
	Set(h)
	for name, want := range map[string]string{
		"content-type":              "application/json",
		"cache-control":             "no-store",
		"x-frame-options":           "DENY",
		"x-content-type-options":    "nosniff",
		"strict-transport-security": "max-age=63072000; includeSubDomains",
	} {
		if h[name] != want {
			t.Errorf("%s: got %q, want %q", name, h[name], want)
		}
	}
	if csp := h["content-security-policy"]; !strings.HasPrefix(csp, "default-src 'none'") || strings.Contains(csp, "unsafe") {
		t.Errorf("CSP: got %q, want one that allows nothing", csp)
	}
	for name := range All() {
		if name != strings.ToLower(name) {
			t.Errorf("header %q: names must be lower-case", name)
		}
	}
}
