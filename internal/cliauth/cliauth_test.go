package cliauth

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
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
	UserAgent = NewUserAgent("1.2.3")
	defer func() { UserAgent = "" }()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The session records the User-Agent of the request that creates it.
		if ua := r.Header.Get("User-Agent"); !strings.HasPrefix(ua, "airlock-cli/1.2.3 (") {
			http.Error(w, `{"error":"user agent `+ua+`"}`, 400)
			return
		}
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

// fakeSessions is a control plane's session endpoints on a real local
// socket: GET /v1/me and POST /auth/logout for the tokens in live.
type fakeSessions struct {
	mu    sync.Mutex
	live  map[string]string // token → email
	ended []string
}

func (f *fakeSessions) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	token := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	email, ok := f.live[token]
	w.Header().Set("Content-Type", "application/json")
	switch {
	case !ok:
		w.WriteHeader(401)
		w.Write([]byte(`{"error":"not signed in"}`))
	case r.Method == "GET" && r.URL.Path == "/v1/me":
		w.Write([]byte(`{"user":{"id":"u1","email":"` + email + `","role":"admin"}}`))
	case r.Method == "POST" && r.URL.Path == "/auth/logout":
		delete(f.live, token)
		f.ended = append(f.ended, token)
		w.WriteHeader(204)
	default:
		w.WriteHeader(404)
	}
}

func TestEndStoredEndsTheReplacedSession(t *testing.T) {
	fake := &fakeSessions{live: map[string]string{"old": "alice@example.com", "other": "bob@example.com"}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	ctx := context.Background()
	// $AIRLOCK_TOKEN is not what the file holds: it is never ended here.
	t.Setenv("AIRLOCK_TOKEN", "other")
	s := Store{Path: filepath.Join(t.TempDir(), "credentials.json")}

	if who, err := s.EndStored(ctx, srv.Client(), srv.URL); who != "" || err != nil || len(fake.ended) != 0 {
		t.Fatalf("nothing stored: got %q, %v, ended %v; want nothing done", who, err, fake.ended)
	}
	if err := s.Save(srv.URL, "old"); err != nil {
		t.Fatal(err)
	}
	who, err := s.EndStored(ctx, srv.Client(), srv.URL+"/")
	if who != "alice@example.com" || err != nil {
		t.Fatalf("got %q, %v; want alice@example.com, no error", who, err)
	}
	if len(fake.ended) != 1 || fake.ended[0] != "old" {
		t.Fatalf("ended %v, want [old]", fake.ended)
	}
	// Already ended (the server answers 401): nothing to say, no error.
	if who, err := s.EndStored(ctx, srv.Client(), srv.URL); who != "" || err != nil {
		t.Fatalf("already ended: got %q, %v; want \"\", no error", who, err)
	}
	srv.Close()
	if _, err := s.EndStored(ctx, srv.Client(), srv.URL); err == nil {
		t.Fatal("server gone: got no error, want one (the caller says the old session may live on)")
	}
}

func TestLogoutOfAnEndedSessionIsNotAnError(t *testing.T) {
	fake := &fakeSessions{live: map[string]string{"tok": "alice@example.com"}}
	srv := httptest.NewServer(fake)
	defer srv.Close()
	for i := range 2 {
		if err := Logout(context.Background(), srv.Client(), srv.URL, "tok"); err != nil {
			t.Fatalf("logout #%d: got %v, want nil", i+1, err)
		}
	}
	if _, err := Me(context.Background(), srv.Client(), srv.URL, "tok"); err == nil {
		t.Fatal("me after logout: got no error, want 401")
	}
}

func TestForgetKeepsAReplacement(t *testing.T) {
	t.Setenv("AIRLOCK_TOKEN", "")
	s := Store{Path: filepath.Join(t.TempDir(), "credentials.json")}
	if err := s.Save("http://a", "mine"); err != nil {
		t.Fatal(err)
	}
	if err := s.Save("http://a", "theirs"); err != nil {
		t.Fatal(err)
	}
	if err := s.Forget("http://a", "mine"); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.Token("http://a"); tok != "theirs" {
		t.Fatalf("got %q, want theirs (saved since; not ours to forget)", tok)
	}
	if err := s.Forget("http://a/", "theirs"); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.Token("http://a"); tok != "" {
		t.Fatalf("got %q, want none", tok)
	}
}

func TestUnreachableNamesTheServerOnce(t *testing.T) {
	// A port that was just listening and is not any more: refused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := "http://" + l.Addr().String()
	l.Close()
	_, err = Providers(context.Background(), &http.Client{}, server+"/")
	var ue *UnreachableError
	if !errors.As(err, &ue) {
		t.Fatalf("got %T %v, want *UnreachableError", err, err)
	}
	want := "cannot reach the control plane at " + server + " (is it running? start one with make dev)"
	if err.Error() != want {
		t.Errorf("got %q, want %q", err, want)
	}
	remote := &UnreachableError{Server: "https://ci.example.com", Err: &url.Error{Op: "Get", URL: "https://ci.example.com/auth/providers", Err: errors.New("dial tcp: lookup ci.example.com: no such host")}}
	if got := remote.Error(); got != "cannot reach the control plane at https://ci.example.com: dial tcp: lookup ci.example.com: no such host" {
		t.Errorf("got %q, want the cause without the URL again", got)
	}
}

func TestNewUserAgent(t *testing.T) {
	host, _ := os.Hostname()
	want := "airlock-cli/v0.3.0 (" + host + "; " + runtime.GOOS + "/" + runtime.GOARCH + ")"
	if got := NewUserAgent("v0.3.0"); host != "" && got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
