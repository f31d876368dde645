package cliauth

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

func TestStoreRoundTripIsPrivateAndAtomic(t *testing.T) {
	t.Setenv("AIRLOCK_TOKEN", "")
	s := Store{Path: filepath.Join(t.TempDir(), "sub", "credentials.json")}
	if tok, err := s.Token("http://a"); err != nil || tok != "" {
		t.Fatalf("empty store: got %q, %v; want no token, no error", tok, err)
	}
	if err := s.Save("http://a/", "tok-a"); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("http://b", "tok-b"); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.Token("http://a"); tok != "tok-a" {
		t.Errorf("got %q, want tok-a (a trailing slash names the same server)", tok)
	}
	fi, err := os.Stat(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode %v, want 0600", fi.Mode().Perm())
	}
	if err := s.Save("http://a", ""); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.Token("http://a"); tok != "" {
		t.Errorf("after forgetting: got %q, want none", tok)
	}
	if tok, _ := s.Token("http://b"); tok != "tok-b" {
		t.Errorf("the other server's token: got %q, want tok-b", tok)
	}
	entries, _ := os.ReadDir(filepath.Dir(s.Path))
	if len(entries) != 1 {
		t.Errorf("got %d files next to the credentials, want only it (no temp files left)", len(entries))
	}
	t.Setenv("AIRLOCK_TOKEN", "from-env")
	if tok, _ := s.Token("http://b"); tok != "from-env" {
		t.Errorf("AIRLOCK_TOKEN: got %q, want it to win", tok)
	}
}

func TestStoreRefusesAGarbledFile(t *testing.T) {
	t.Setenv("AIRLOCK_TOKEN", "")
	s := Store{Path: filepath.Join(t.TempDir(), "credentials.json")}
	if err := os.WriteFile(s.Path, []byte("{not json"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Token("http://a"); err == nil || !strings.Contains(err.Error(), "not a credentials file") {
		t.Fatalf("got %v, want a clear error naming the file", err)
	}
	if err := s.Save("http://a", "x"); err == nil {
		t.Fatal("saving over a garbled file must fail rather than drop its contents")
	}
}

// TestDeviceFlowPolling runs the client against a control plane's device
// endpoints on a real local socket: pending twice, slow_down once, then a
// session; and a denied sign-in.
func TestDeviceFlowPolling(t *testing.T) {
	var polls atomic.Int32
	deny := false
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, `{"error":"want JSON"}`, 415)
			return
		}
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/auth/device":
			if body["provider"] != "dev" {
				w.WriteHeader(400)
				w.Write([]byte(`{"error":"unknown provider \"` + body["provider"] + `\""}`))
				return
			}
			w.Write([]byte(`{"device_request":"h1","user_code":"ABCD-EFGH","verification_uri":"http://idp/device","interval":0,"expires_in":60}`))
		case "/auth/device/token":
			if body["device_request"] != "h1" {
				w.WriteHeader(400)
				w.Write([]byte(`{"error":"unknown device request"}`))
				return
			}
			n := polls.Add(1)
			switch {
			case deny:
				w.WriteHeader(400)
				w.Write([]byte(`{"error":"access_denied"}`))
			case n <= 2:
				w.WriteHeader(400)
				w.Write([]byte(`{"error":"authorization_pending"}`))
			default:
				w.Write([]byte(`{"token":"sid.secret","user":{"email":"alice@example.com","role":"admin"},"session":{"id":"sid"}}`))
			}
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if _, err := Start(ctx, srv.Client(), srv.URL, "nope"); err == nil || !strings.Contains(err.Error(), "unknown provider") {
		t.Fatalf("unknown provider: got %v, want the server's message", err)
	}
	d, err := Start(ctx, srv.Client(), srv.URL, "dev")
	if err != nil {
		t.Fatal(err)
	}
	d.Interval = 0 // poll without waiting 5 s (the server said 0; the client's floor)
	s, err := waitFast(ctx, d)
	if err != nil {
		t.Fatal(err)
	}
	if s.Token != "sid.secret" || s.User.Email != "alice@example.com" || polls.Load() != 3 {
		t.Fatalf("got token %q user %q after %d polls; want sid.secret, alice, 3", s.Token, s.User.Email, polls.Load())
	}
	deny = true
	if _, err := waitFast(ctx, d); !errors.Is(err, ErrDenied) {
		t.Fatalf("denied: got %v, want ErrDenied", err)
	}
}

// waitFast polls without the protocol's minimum interval.
func waitFast(ctx context.Context, d *Device) (*Session, error) {
	pollFloor = 0
	defer func() { pollFloor = defaultPollFloor }()
	return d.Wait(ctx)
}
