//go:build js && wasm

package main

import (
	"context"
	"syscall/js"
	"time"

	"github.com/airlockci/airlock/edge/internal/jsdo"
	"github.com/airlockci/airlock/edge/scheduler"
	"github.com/airlockci/airlock/edge/sessions"
)

// sweepEvery is how often the Sessions object deletes expired sessions,
// login attempts and device sign-ins (they are also refused on access).
const sweepEvery = time.Hour

// serveSessions registers the Sessions object's handlers: sign-in, the
// session routes, and the gate every person's API request passes.
func serveSessions(host js.Value, db *jsdo.SQL, logf func(string, ...any)) error {
	env := host.Get("env")
	cfg, err := sessions.LoadConfig(host.Get("ssoName").String(), []byte(host.Get("sso").String()))
	if err != nil {
		// Sign-in is impossible without its configuration, and every API
		// request would be refused anyway: say why, loudly, at boot.
		return err
	}
	secret := func(name string) string {
		if v := env.Get(name); v.Type() == js.TypeString {
			return v.String()
		}
		return ""
	}
	svc, err := sessions.New(db, jsdo.NewFetcher(host.Get("fetchCapped"), 256<<10), time.Now, cfg, secret, logf)
	if err != nil {
		return err
	}
	alarm := jsdo.NewAlarm(host.Get("ctx").Get("storage"))
	alarm.Set(time.Now().Add(sweepEvery))

	// Forwarded requests (a pipeline submission) may be larger than the
	// Sessions routes' own bodies; the Scheduler holds them to its limit.
	host.Set("maxBody", max(sessions.MaxBodyBytes, scheduler.MaxBodyBytes))
	host.Set("fetch", guard(logf, "fetch", func(args []js.Value) any {
		req := request(args[0])
		answer := func() any {
			resp := svc.Serve(context.Background(), req)
			if p := resp.Forward; p != nil {
				return js.ValueOf(map[string]any{"forward": scheduler.EncodePrincipal(scheduler.Principal{
					User: p.User, Email: p.Email, Name: p.Name, Role: p.Role, Session: p.SessionID, Kind: p.Kind,
				})})
			}
			return descriptor(resp.Status, resp.Headers(), resp.Body)
		}
		// Sign-in talks to the identity provider: those requests are
		// answered with a promise so that Serve may await a fetch (a
		// synchronous callback must never block). Checking a session
		// does not fetch, and is answered at once.
		if sessions.NeedsFetch(req) {
			return jsdo.Promise(answer)
		}
		return answer()
	}))
	host.Set("alarm", guard(logf, "alarm", func(args []js.Value) any {
		if err := svc.Sweep(time.Now()); err != nil {
			logf("sweep: %v", err)
		}
		alarm.Set(time.Now().Add(sweepEvery))
		return nil
	}))
	host.Set("message", guard(logf, "message", func(args []js.Value) any { return nil }))
	host.Set("close", guard(logf, "close", func(args []js.Value) any { return nil }))
	return nil
}
