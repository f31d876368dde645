// Package httpfetch implements identity.Fetcher on net/http, for native
// programs (tests, the local development stack, the agent). The edge has
// its own Fetcher on the Workers fetch API; this package must never be
// linked into the js/wasm binary.
package httpfetch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/airlockci/airlock/internal/identity"
)

// Defaults for New.
const (
	DefaultTimeout = 10 * time.Second
	DefaultMaxBody = 1 << 20
)

// Fetcher sends requests with net/http and never follows redirects.
type Fetcher struct {
	client  *http.Client
	maxBody int64
}

var _ identity.Fetcher = (*Fetcher)(nil)

// New returns a Fetcher whose requests time out after timeout (0:
// DefaultTimeout) and that reads at most maxBody bytes of a body (0:
// DefaultMaxBody). A longer body is returned cut to maxBody+1 bytes, so
// the verifier's own cap, which must be at most maxBody, sees it is too
// long.
func New(timeout time.Duration, maxBody int64) *Fetcher {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	return NewWithClient(&http.Client{Timeout: timeout}, maxBody)
}

// NewWithClient uses a copy of c (its transport, timeout, TLS settings),
// with redirects turned off whatever c says.
func NewWithClient(c *http.Client, maxBody int64) *Fetcher {
	cc := *c
	cc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if maxBody <= 0 {
		maxBody = DefaultMaxBody
	}
	return &Fetcher{client: &cc, maxBody: maxBody}
}

// Fetch implements identity.Fetcher.
func (f *Fetcher) Fetch(ctx context.Context, req identity.HTTPRequest) (identity.HTTPResponse, error) {
	var body io.Reader
	if req.Body != nil {
		body = bytes.NewReader(req.Body)
	}
	r, err := http.NewRequestWithContext(ctx, req.Method, req.URL, body)
	if err != nil {
		return identity.HTTPResponse{}, fmt.Errorf("httpfetch: %w", err)
	}
	for k, vs := range req.Header {
		for _, v := range vs {
			r.Header.Add(k, v)
		}
	}
	resp, err := f.client.Do(r)
	if err != nil {
		return identity.HTTPResponse{}, fmt.Errorf("httpfetch: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBody+1))
	if err != nil {
		return identity.HTTPResponse{}, fmt.Errorf("httpfetch: reading the response of %s: %w", req.URL, err)
	}
	return identity.HTTPResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}, nil
}
