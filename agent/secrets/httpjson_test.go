package secrets

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// A token the service refuses is dropped, so the next read fetches a new
// one instead of failing until the cached token expires.
func TestGetWithTokenDropsARefusedToken(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer token-2" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		fmt.Fprint(w, `{"value":"ok"}`)
	}))
	t.Cleanup(srv.Close)
	fetched := 0
	fetch := func(context.Context) (token, error) {
		fetched++
		return token{value: fmt.Sprintf("token-%d", fetched), expires: time.Now().Add(time.Hour)}, nil
	}
	var c tokenCache
	var out struct{ Value string }
	if err := c.getWithToken(context.Background(), time.Now(), fetch, srv.Client(), srv.URL, &out, nil); !isStatus(err, http.StatusUnauthorized) {
		t.Fatalf("first read: got %v, want 401", err)
	}
	if err := c.getWithToken(context.Background(), time.Now(), fetch, srv.Client(), srv.URL, &out, nil); err != nil || out.Value != "ok" {
		t.Fatalf("second read: got %q, %v, want a fresh token to work", out.Value, err)
	}
	if err := c.getWithToken(context.Background(), time.Now(), fetch, srv.Client(), srv.URL, &out, nil); err != nil || fetched != 2 {
		t.Fatalf("third read: %v, fetched %d tokens, want the good one reused (2)", err, fetched)
	}
}
