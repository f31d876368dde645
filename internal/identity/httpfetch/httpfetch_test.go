package httpfetch_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/airlockci/airlock/internal/identity"
	"github.com/airlockci/airlock/internal/identity/httpfetch"
)

func TestFetchNeverFollowsRedirectsAndCapsBodies(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redirect":
			http.Redirect(w, r, "/target", http.StatusFound)
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 5000)))
		default:
			w.Header().Set("X-Got", r.Method+" "+r.Header.Get("X-Test")+" "+r.Host)
			_, _ = w.Write([]byte("target"))
		}
	}))
	defer srv.Close()
	f := httpfetch.New(0, 1000)
	ctx := context.Background()

	resp, err := f.Fetch(ctx, identity.HTTPRequest{Method: "GET", URL: srv.URL + "/redirect"})
	if err != nil || resp.Status != http.StatusFound || resp.Header["Location"][0] != "/target" {
		t.Errorf("redirect: got %d %v %v, want the 302 itself", resp.Status, resp.Header, err)
	}
	resp, err = f.Fetch(ctx, identity.HTTPRequest{Method: "GET", URL: srv.URL + "/big"})
	if err != nil || len(resp.Body) != 1001 {
		t.Errorf("big: got %d bytes, %v; want the cap + 1", len(resp.Body), err)
	}
	resp, err = f.Fetch(ctx, identity.HTTPRequest{Method: "POST", URL: srv.URL + "/", Header: map[string][]string{"X-Test": {"yes"}}, Body: []byte("b")})
	if err != nil || string(resp.Body) != "target" || resp.Header["X-Got"][0] != "POST yes "+strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("got %d %q %v %v", resp.Status, resp.Body, resp.Header, err)
	}
	ctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := f.Fetch(ctx, identity.HTTPRequest{Method: "GET", URL: srv.URL + "/"}); err == nil {
		t.Error("got no error for a cancelled context")
	}
}
