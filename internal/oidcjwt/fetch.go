package oidcjwt

import "context"

// HTTPRequest is a request the verifier asks a Fetcher to send.
type HTTPRequest struct {
	Method string
	URL    string
	Header map[string][]string
	Body   []byte
}

// HTTPResponse is what came back.
type HTTPResponse struct {
	Status int
	Header map[string][]string
	Body   []byte
}

// Fetcher sends HTTP requests: to STS (AWS proofs), to OIDC issuers
// (discovery documents and JWKS) and to their token endpoints. The edge
// implements it on the Workers fetch API; internal/identity/httpfetch
// implements it on net/http.
//
// Contract:
//   - Fetch sends req once, as given (Host comes from the URL; the
//     implementation sets Content-Length), and returns the response.
//   - It never follows redirects: a 3xx is returned as is, with its
//     Location header. Callers refuse it.
//   - It may cap the body it reads (and must then either fail or return
//     a body longer than any cap the caller applies, so truncation
//     cannot pass for a complete answer); callers cap again.
//   - A transport failure (DNS, TLS, timeout) is an error; any HTTP
//     status is a response, not an error.
//   - It honours ctx cancellation and applies its own timeout.
//   - It is safe for concurrent use.
type Fetcher interface {
	Fetch(ctx context.Context, req HTTPRequest) (HTTPResponse, error)
}

// HeaderValue is the first value of header name (case-insensitive).
func HeaderValue(h map[string][]string, name string) string {
	for k, v := range h {
		if equalFold(k, name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}
