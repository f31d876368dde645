package sessions_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/airlockci/airlock/edge/sessions"
)

// TestSignInStartsStoreNothing: what anyone may send without having
// signed in at a provider — starting a browser or device sign-in, polling
// a pending device request, a callback that fails — stores nothing, so no
// amount of it can fill the storage or lock anyone out.
func TestSignInStartsStoreNothing(t *testing.T) {
	w := newWorld(t)
	w.startLogin("acme", "") // the sealing key is made on first use
	before := w.stored()
	if before["keys"] != 1 {
		t.Fatalf("tables %v: want the sealing key", before)
	}
	var handles []string
	for i := 0; i < 300; i++ {
		provider := []string{"acme", "other"}[i%2]
		r := w.do("GET", "/auth/login?"+url.Values{"provider": {provider}, "return_to": {"/runs/" + strings.Repeat("x", i)}}.Encode(), nil, "")
		if r.Status != 302 {
			t.Fatalf("login %d: %d %s", i, r.Status, r.Body)
		}
		if i < 50 {
			d := w.do("POST", "/auth/device", nil, `{"provider":"acme"}`)
			if d.Status != 200 {
				t.Fatalf("device %d: %d %s", i, d.Status, d.Body)
			}
			handles = append(handles, decode(t, d)["device_request"].(string))
		}
	}
	for _, h := range handles {
		wantStatus(t, w.do("POST", "/auth/device/token", nil, `{"device_request":"`+h+`"}`), 400, "authorization_pending")
	}
	// Callbacks that fail before and after the provider was asked.
	w.acme.setUser(mallory) // signs in at the provider, but the rules refuse her
	s := w.startLogin("acme", "")
	cb := w.authorize(s)
	q := cb.Query()
	q.Set("state", strings.Repeat("A", 43))
	bad := *cb
	bad.RawQuery = q.Encode()
	wantStatus(t, w.callback(&bad, sessions.LoginCookie+"="+s.binding), 400, "does not belong")
	wantStatus(t, w.callback(cb, sessions.LoginCookie+"="+s.binding), 403, "may not sign in")
	w.unchanged("300 sign-in starts, 50 device starts and polls, refused callbacks", before)
}

// TestAnonymousSignInStartsCannotLockOut: the flood the e2e suite sends
// (AIRLOCK_E2E_FLOOD=1) in-process: 10 001 anonymous GET /auth/login, more
// than the old cap of 10 000 pending sign-ins, and then a real person
// signs in. Before sign-ins in progress were sealed in the cookie, the
// flood made every sign-in answer 503 for 10 minutes.
func TestAnonymousSignInStartsCannotLockOut(t *testing.T) {
	if testing.Short() {
		t.Skip("10 001 requests; skipped with -short")
	}
	w := newWorld(t)
	w.startLogin("acme", "")
	before := w.stored()
	var wg sync.WaitGroup
	var mu sync.Mutex
	refused := map[int]int{}
	next := make(chan int)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range next {
				r := w.svc.Serve(context.Background(), sessions.Request{Method: "GET", URL: publicURL + "/auth/login?provider=acme", Header: map[string]string{}})
				if r.Status != 302 {
					mu.Lock()
					refused[r.Status]++
					mu.Unlock()
				}
			}
		}()
	}
	start := time.Now()
	for i := 0; i < 10001; i++ {
		next <- i
	}
	close(next)
	wg.Wait()
	t.Logf("10 001 sign-in starts in %s", time.Since(start))
	if len(refused) != 0 {
		t.Errorf("sign-in starts refused: %v (status: count)", refused)
	}
	w.unchanged("10 001 sign-in starts", before)
	tok := w.signIn(w.acme, "acme", alice)
	if r := w.do("GET", "/v1/me", browser(tok), ""); r.Status != 200 {
		t.Errorf("after the flood, a real sign-in's session: %d %s", r.Status, r.Body)
	}
}

// TestConcurrentCallbacksMakeOneSession: the same callback sent ten times
// at once, to a provider careless enough to redeem its code ten times,
// still makes exactly one session: recording the state as used, in the
// transaction that creates the session, decides. The same holds for ten
// polls of one approved device request.
func TestConcurrentCallbacksMakeOneSession(t *testing.T) {
	const n = 10
	w := newWorld(t)
	release, entered := make(chan struct{}), make(chan struct{}, n)
	w.acme.set(func(p *idp) { p.multiUse, p.block, p.entered = true, release, entered })
	// waitAll lets the token endpoint answer once all n requests wait at
	// it (each passed every check before the exchange).
	waitAll := func() {
		for i := 0; i < n; i++ {
			select {
			case <-entered:
			case <-time.After(5 * time.Second):
				close(release) // let them finish, so that the provider can close
				t.Fatalf("only %d of %d requests reached the provider", i, n)
			}
		}
		close(release)
	}

	s := w.startLogin("acme", "/runs")
	cb := w.authorize(s)
	answers := make(chan sessions.Response, n)
	for i := 0; i < n; i++ {
		go func() {
			answers <- w.svc.Serve(context.Background(), sessions.Request{Method: "GET", URL: cb.String(), Header: map[string]string{"cookie": sessions.LoginCookie + "=" + s.binding, "sec-fetch-site": "cross-site"}})
		}()
	}
	waitAll()
	got := map[int]int{}
	for i := 0; i < n; i++ {
		r := <-answers
		got[r.Status]++
		if r.Status != 200 && !strings.Contains(string(r.Body), "unknown or already used sign-in") {
			t.Errorf("a concurrent callback: %d %s", r.Status, r.Body)
		}
	}
	if got[200] != 1 || got[400] != n-1 || w.count("sessions") != 1 || w.count("used_logins") != 1 {
		t.Errorf("answers %v, %d sessions, %d used states; want one 200, one session, one used state", got, w.count("sessions"), w.count("used_logins"))
	}
	// Replayed afterwards: refused before the provider is asked.
	calls := w.acme.tokenCalls
	wantStatus(t, w.callback(cb, sessions.LoginCookie+"="+s.binding), 400, "unknown or already used sign-in")
	if w.acme.tokenCalls != calls {
		t.Error("a replayed callback reached the provider")
	}

	release, entered = make(chan struct{}), make(chan struct{}, n)
	w.acme.set(func(p *idp) { p.block, p.entered = release, entered })
	d := decode(t, w.do("POST", "/auth/device", nil, `{"provider":"acme"}`))
	w.acme.approve(d["user_code"].(string), bob)
	for i := 0; i < n; i++ {
		go func() {
			answers <- w.svc.Serve(context.Background(), sessions.Request{Method: "POST", URL: publicURL + "/auth/device/token",
				Header: map[string]string{"content-type": "application/json"}, Body: []byte(`{"device_request":"` + d["device_request"].(string) + `"}`)})
		}()
	}
	waitAll()
	got = map[int]int{}
	for i := 0; i < n; i++ {
		r := <-answers
		got[r.Status]++
		if r.Status != 200 && !strings.Contains(string(r.Body), "unknown or already used device_request") {
			t.Errorf("a concurrent poll: %d %s", r.Status, r.Body)
		}
	}
	if got[200] != 1 || w.count("sessions") != 2 || w.count("used_device_requests") != 1 {
		t.Errorf("answers %v, %d sessions, %d used handles; want one 200 and one more session", got, w.count("sessions"), w.count("used_device_requests"))
	}
}

// TestSealingKeyRotation: deleting the key row invalidates only the
// sign-ins in progress; sessions go on, and the next sign-in makes a new
// key.
func TestSealingKeyRotation(t *testing.T) {
	w := newWorld(t)
	tok := w.signIn(w.acme, "acme", alice)
	cli := w.deviceSignIn(bob)
	s := w.startLogin("acme", "")
	cb := w.authorize(s)
	d := decode(t, w.do("POST", "/auth/device", nil, `{"provider":"acme"}`))
	old, _ := w.db.Exec("SELECT key FROM keys")
	if len(old) != 1 || len(old[0][0].([]byte)) != 32 {
		t.Fatalf("keys %v: want one 256-bit key", old)
	}
	w.db.Exec("DELETE FROM keys")

	wantStatus(t, w.callback(cb, sessions.LoginCookie+"="+s.binding), 400, "does not belong to this sign-in")
	wantStatus(t, w.do("POST", "/auth/device/token", nil, `{"device_request":"`+d["device_request"].(string)+`"}`), 400, "unknown or already used device_request")
	if r := w.do("GET", "/v1/me", browser(tok), ""); r.Status != 200 {
		t.Errorf("a browser session after the rotation: %d", r.Status)
	}
	if r := w.do("GET", "/v1/me", bearer(cli), ""); r.Status != 200 {
		t.Errorf("a CLI session after the rotation: %d", r.Status)
	}
	w.signIn(w.acme, "acme", alice)
	w.deviceSignIn(bob)
	if now, _ := w.db.Exec("SELECT key FROM keys"); len(now) != 1 || string(now[0][0].([]byte)) == string(old[0][0].([]byte)) {
		t.Errorf("keys after the rotation %v: want one new key", now)
	}
}
