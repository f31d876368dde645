package identity

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

// Fetcher sends HTTP requests for the verifier: to STS (AWS proofs) and to
// OIDC issuers (discovery documents and JWKS). The edge implements it on
// the Workers fetch API; httpfetch implements it on net/http.
//
// Contract:
//   - Fetch sends req once, as given (Host comes from the URL; the
//     implementation sets Content-Length), and returns the response.
//   - It never follows redirects: a 3xx is returned as is, with its
//     Location header. The verifier refuses it.
//   - It may cap the body it reads (and must then either fail or return
//     a body longer than any cap the verifier applies, so truncation
//     cannot pass for a complete answer); the verifier caps again.
//   - A transport failure (DNS, TLS, timeout) is an error; any HTTP
//     status is a response, not an error.
//   - It honours ctx cancellation and applies its own timeout.
//   - It is safe for concurrent use.
type Fetcher interface {
	Fetch(ctx context.Context, req HTTPRequest) (HTTPResponse, error)
}
