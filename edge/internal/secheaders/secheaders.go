// Package secheaders holds the security headers every answer of the edge's
// API carries: no framing, no sniffing, no referrer, no caching, HSTS,
// cross-origin isolation, and a Content-Security-Policy that allows
// nothing (API answers and the sign-in pages need no script, style or
// image). The list is headers.json, which the Worker shim imports too, so
// the answers it builds itself (/v1/ping, refusals) carry the same set.
package secheaders

import (
	_ "embed"
	"encoding/json"
	"maps"
)

//go:embed headers.json
var raw []byte

var headers = func() map[string]string {
	var h map[string]string
	if err := json.Unmarshal(raw, &h); err != nil {
		panic("secheaders: headers.json: " + err.Error())
	}
	return h
}()

// Set adds the security headers to h (lower-case names), replacing any of
// the same name.
func Set(h map[string]string) { maps.Copy(h, headers) }

// All returns a copy of the headers.
func All() map[string]string { return maps.Clone(headers) }
