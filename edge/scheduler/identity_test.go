package scheduler

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/airlockci/airlock/internal/identity"
	"github.com/airlockci/airlock/internal/wire"
)

func (w *world) challenge() string {
	w.t.Helper()
	resp := w.s.Serve(Request{Method: "POST", URL: "http://x/v1/agents/challenge"})
	if resp.Status != 201 {
		w.t.Fatalf("challenge: %d %s", resp.Status, resp.Body)
	}
	body := string(resp.Body)
	i := strings.Index(body, `"challenge":"`) + len(`"challenge":"`)
	return body[i : i+strings.Index(body[i:], `"`)]
}

func (w *world) connectRequest(p *identity.Proof) Response {
	w.t.Helper()
	h, err := identity.EncodeProof(p)
	if err != nil {
		w.t.Fatal(err)
	}
	return w.s.Serve(Request{Method: "GET", URL: "http://x/v1/agents/connect", Header: map[string]string{"upgrade": "websocket", "airlock-identity-proof": h}})
}

func oidcProof(ch string) *identity.Proof {
	return &identity.Proof{Kind: "oidc", Challenge: ch, OIDC: &identity.OIDCToken{Provider: "kubernetes", Token: "a.b.c"}}
}

// A challenge is answered once: the same proof on a second connection, or
// after the challenge expired, is refused before anything is verified.
func TestChallengeIsSingleUseAndExpires(t *testing.T) {
	w := newWorld(t)
	ch := w.challenge()
	resp := w.connectRequest(oidcProof(ch))
	if resp.Verify == nil || resp.Verify.Challenge != ch {
		t.Fatalf("first use: got %+v, want a verification of challenge %s", resp, ch)
	}
	if again := w.connectRequest(oidcProof(ch)); again.Status != 401 || !strings.Contains(string(again.Body), "already used or expired") {
		t.Fatalf("replay: got %d %s, want 401", again.Status, again.Body)
	}
	late := w.challenge()
	w.clock = w.clock.Add(ChallengeTTL + time.Second)
	if resp := w.connectRequest(oidcProof(late)); resp.Status != 401 {
		t.Fatalf("expired challenge: got %d %s, want 401", resp.Status, resp.Body)
	}
	if resp := w.connectRequest(oidcProof("ach_from_another_deployment")); resp.Status != 401 {
		t.Fatalf("foreign challenge: got %d %s, want 401", resp.Status, resp.Body)
	}
}

func TestAdmit(t *testing.T) {
	w := newWorld(t)
	if resp := w.s.Admit(Identity{}, errors.New("STS said no")); resp.Status != 401 || !strings.Contains(string(resp.Body), "STS said no") {
		t.Fatalf("refused: got %d %s", resp.Status, resp.Body)
	}
	resp := w.s.Admit(Identity{Kind: "aws", Subject: "arn:aws:iam::1:role/r", Pool: "linux", Tags: map[string]string{"queue": "linux"}, Expires: w.clock.Add(time.Hour)}, nil)
	if resp.Status != 101 || resp.Upgrade == "" {
		t.Fatalf("admitted: got %+v, want an upgrade", resp)
	}
	conn := resp.Upgrade
	w.sock.open[conn] = true
	// The pool's tags win over what the agent claims.
	w.send(conn, wire.Frame{Type: wire.THello, Hello: &wire.Hello{Name: "a", Slots: 1, Tags: map[string]string{"queue": "default", "os": "linux"}}})
	as, _ := w.s.Agents()
	if len(as) != 1 || as[0].Tags["queue"] != "linux" || as[0].Tags["os"] != "linux" || as[0].Pool != "linux" {
		t.Fatalf("agents: got %+v, want pool linux with queue=linux", as)
	}
}

// Before its credentials expire a connection is challenged; a verified proof
// of the same identity extends it, anything else closes it, and silence
// closes it when the credentials expire.
func TestReproofOnOpenConnection(t *testing.T) {
	id := Identity{Kind: "aws", Subject: "arn:aws:iam::1:role/r", Pool: "p", Expires: time.Date(2026, 12, 3, 13, 0, 0, 0, time.UTC)}
	setup := func(t *testing.T) (*world, string, string) {
		w := newWorld(t)
		resp := w.s.Admit(id, nil)
		conn := resp.Upgrade
		w.sock.open[conn] = true
		w.send(conn, wire.Frame{Type: wire.THello, Hello: &wire.Hello{Name: "a", Slots: 1}})
		w.sock.take(conn)
		if w.alarm.at.After(id.Expires.Add(-reproveMargin)) {
			t.Fatalf("alarm at %v, want by %v", w.alarm.at, id.Expires.Add(-reproveMargin))
		}
		w.clock = id.Expires.Add(-reproveMargin)
		w.send(conn, wire.Frame{Type: wire.THeartbeat, Heartbeat: &wire.Heartbeat{}})
		if err := w.s.Alarm(); err != nil {
			t.Fatal(err)
		}
		var ch string
		for _, f := range w.sock.take(conn) {
			if f.Type == wire.TChallenge {
				ch = f.Challenge.Challenge
			}
		}
		if ch == "" {
			t.Fatal("no challenge sent before the credentials expire")
		}
		return w, conn, ch
	}
	proofFrame := func(t *testing.T, ch string) wire.Frame {
		h, err := identity.EncodeProof(oidcProof(ch))
		if err != nil {
			t.Fatal(err)
		}
		return wire.Frame{Type: wire.TProof, Proof: &wire.Proof{Proof: h}}
	}
	message := func(t *testing.T, w *world, conn string, f wire.Frame) *Verification {
		v, err := w.s.Message(conn, mustEncode(t, f))
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("same identity extends", func(t *testing.T) {
		w, conn, ch := setup(t)
		v := message(t, w, conn, proofFrame(t, ch))
		if v == nil || v.Conn != conn {
			t.Fatalf("got %+v, want a verification for the connection", v)
		}
		next := id
		next.Expires = id.Expires.Add(time.Hour)
		if err := w.s.Reproved(conn, next, nil); err != nil {
			t.Fatal(err)
		}
		w.clock = id.Expires.Add(time.Second)
		w.send(conn, wire.Frame{Type: wire.THeartbeat, Heartbeat: &wire.Heartbeat{}})
		_ = w.s.Alarm()
		if !w.sock.open[conn] {
			t.Fatalf("closed after a good re-proof: %s", w.sock.closed[conn])
		}
	})
	t.Run("replayed challenge", func(t *testing.T) {
		w, conn, ch := setup(t)
		message(t, w, conn, proofFrame(t, ch))
		if v := message(t, w, conn, proofFrame(t, ch)); v != nil || w.sock.open[conn] {
			t.Fatalf("a second proof for the same challenge was taken")
		}
	})
	t.Run("another identity", func(t *testing.T) {
		w, conn, ch := setup(t)
		message(t, w, conn, proofFrame(t, ch))
		other := id
		other.Subject = "arn:aws:iam::1:role/other"
		_ = w.s.Reproved(conn, other, nil)
		if w.sock.open[conn] || !strings.Contains(w.sock.closed[conn], "another identity") {
			t.Fatalf("got %q, want closed for another identity", w.sock.closed[conn])
		}
	})
	t.Run("verification fails", func(t *testing.T) {
		w, conn, ch := setup(t)
		message(t, w, conn, proofFrame(t, ch))
		_ = w.s.Reproved(conn, Identity{}, errors.New("token expired"))
		if w.sock.open[conn] || !strings.Contains(w.sock.closed[conn], "token expired") {
			t.Fatalf("got %q, want closed with the reason", w.sock.closed[conn])
		}
	})
	t.Run("silence", func(t *testing.T) {
		w, conn, _ := setup(t)
		w.clock = id.Expires
		w.send(conn, wire.Frame{Type: wire.THeartbeat, Heartbeat: &wire.Heartbeat{}})
		if err := w.s.Alarm(); err != nil {
			t.Fatal(err)
		}
		if w.sock.open[conn] || !strings.HasPrefix(w.sock.closed[conn], "4001") {
			t.Fatalf("got %q, want closed 4001 at expiry", w.sock.closed[conn])
		}
	})
}
