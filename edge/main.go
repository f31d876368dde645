//go:build js && wasm

// Command edge is Airlock's control plane compiled to WebAssembly. One
// instance boots inside each Durable Object (see worker.mjs): the shim hands
// it the object's state and its role, and it registers the handlers the shim
// forwards every event to. All decisions are in package scheduler (the
// Scheduler object) and package sessions (the Sessions object).
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall/js"
	"time"

	"github.com/airlockci/airlock/edge/internal/edgehttp"
	"github.com/airlockci/airlock/edge/internal/jsdo"
	"github.com/airlockci/airlock/edge/internal/secheaders"
	"github.com/airlockci/airlock/edge/scheduler"
	"github.com/airlockci/airlock/edge/sessions"
	"github.com/airlockci/airlock/internal/identity"
)

func main() {
	host := js.Global().Get(os.Getenv("AIRLOCK_HOST"))
	if host.IsUndefined() {
		fmt.Println("airlock edge: AIRLOCK_HOST names no host object; start me from worker.mjs")
		return
	}
	role := os.Getenv("AIRLOCK_ROLE")
	logf := func(format string, args ...any) {
		js.Global().Get("console").Call("log", "airlock "+role+": "+fmt.Sprintf(format, args...))
	}
	db, err := jsdo.NewSQL(host.Get("ctx").Get("storage"), host.Get("tx"))
	if err != nil {
		host.Call("failed", err.Error())
		return
	}
	switch role {
	case "scheduler":
		err = serveScheduler(host, db, logf)
	case "sessions":
		err = serveSessions(host, db, logf)
	default:
		err = fmt.Errorf("unknown role %q: want scheduler or sessions", role)
	}
	if err != nil {
		host.Call("failed", err.Error())
		return
	}
	host.Call("ready")
	select {}
}

// guard wraps a handler so that a panic answers 500 (and is logged) instead
// of ending the instance for every later event.
func guard(logf func(string, ...any), name string, fn func(args []js.Value) any) js.Func {
	return js.FuncOf(func(this js.Value, args []js.Value) (ret any) {
		defer func() {
			if r := recover(); r != nil {
				logf("%s: panic: %v", name, r)
				ret = describe(scheduler.Response{Status: 500, Header: map[string]string{"content-type": "application/json"}, Body: []byte(`{"error":"internal error"}` + "\n")})
			}
		}()
		return fn(args)
	})
}

// request reads the shim's request descriptor, for either object.
func request(d js.Value) edgehttp.Request {
	req := edgehttp.Request{Method: d.Get("method").String(), URL: d.Get("url").String(), Header: map[string]string{}}
	h := d.Get("headers")
	keys := js.Global().Get("Object").Call("keys", h)
	for i := 0; i < keys.Length(); i++ {
		k := keys.Index(i).String()
		req.Header[k] = h.Get(k).String()
	}
	if b := d.Get("body"); !b.IsUndefined() && !b.IsNull() {
		req.Body = make([]byte, b.Get("length").Int())
		js.CopyBytesToGo(req.Body, b)
	}
	return req
}

// serveScheduler registers the Scheduler object's handlers.
func serveScheduler(host js.Value, db *jsdo.SQL, logf func(string, ...any)) error {
	ctx := host.Get("ctx")
	sched, err := scheduler.New(db, jsdo.NewSockets(ctx), jsdo.NewAlarm(ctx.Get("storage")), time.Now, scheduler.Config{Log: logf})
	if err != nil {
		return err
	}
	// The agent pools (trust configuration as code). A broken file does not
	// stop the control plane: the API keeps working and agents are refused
	// with the reason.
	var verifier *identity.Verifier
	poolsErr := errors.New("no agent pools configured")
	if src := host.Get("pools"); src.Type() == js.TypeString && src.String() != "" {
		cfg, err := identity.LoadConfig(host.Get("poolsName").String(), []byte(src.String()))
		if err != nil {
			poolsErr = err
			logf("agent pools: %v", err)
		} else {
			poolsErr = nil
			verifier = identity.NewVerifier(cfg, jsdo.NewFetcher(host.Get("fetchCapped"), 64<<10), time.Now)
		}
	}
	verify := func(v *scheduler.Verification) (scheduler.Identity, error) {
		if poolsErr != nil {
			return scheduler.Identity{}, fmt.Errorf("the control plane's agent pools are not usable: %w", poolsErr)
		}
		return verifier.Verify(context.Background(), v.Proof, v.Challenge)
	}

	host.Set("maxBody", scheduler.MaxBodyBytes)
	// fetch(request descriptor) → response descriptor
	host.Set("fetch", guard(logf, "fetch", func(args []js.Value) any {
		resp := sched.Serve(request(args[0]))
		if v := resp.Verify; v != nil {
			// Verifying talks to STS or an OIDC issuer: answer with a
			// promise, and admit (or refuse) once the proof is checked.
			return jsdo.Promise(func() any {
				id, err := verify(v)
				return describe(sched.Admit(id, err))
			})
		}
		return describe(resp)
	}))
	// message(conn, data Uint8Array | string) → undefined, or a promise
	// while a re-proof is verified
	host.Set("message", guard(logf, "message", func(args []js.Value) any {
		conn, data := args[0].String(), args[1]
		var b []byte
		if data.Type() == js.TypeString {
			// Text frames are not part of the protocol; hand the decoder
			// something it refuses with a clear reason.
			b = []byte(data.String())
		} else {
			b = make([]byte, data.Get("length").Int())
			js.CopyBytesToGo(b, data)
		}
		v, err := sched.Message(conn, b)
		if err != nil {
			logf("message from %s: %v", conn, err)
		}
		if v == nil {
			return nil
		}
		return jsdo.Promise(func() any {
			id, err := verify(v)
			if err := sched.Reproved(conn, id, err); err != nil {
				logf("re-proof of %s: %v", conn, err)
			}
			return nil
		})
	}))
	host.Set("close", guard(logf, "close", func(args []js.Value) any {
		if err := sched.Closed(args[0].String()); err != nil {
			logf("close of %s: %v", args[0].String(), err)
		}
		return nil
	}))
	host.Set("alarm", guard(logf, "alarm", func(args []js.Value) any {
		if err := sched.Alarm(); err != nil {
			logf("alarm: %v", err)
		}
		return nil
	}))
	return nil
}

// describe turns a response into the descriptor the shim builds a Response
// from. Every answer carries the edge's security headers.
func describe(resp scheduler.Response) js.Value {
	if resp.Upgrade != "" {
		return js.ValueOf(map[string]any{"status": resp.Status, "upgrade": resp.Upgrade})
	}
	if resp.Header == nil {
		resp.Header = map[string]string{}
	}
	secheaders.Set(resp.Header)
	return descriptor(resp.Status, sessions.Response{Header: resp.Header}.Headers(), resp.Body)
}

// descriptor is a response descriptor; headers are name-value pairs so
// that a name may repeat (Set-Cookie).
func descriptor(status int, headers [][2]string, body []byte) js.Value {
	pairs := make([]any, len(headers))
	for i, h := range headers {
		pairs[i] = []any{h[0], h[1]}
	}
	b := js.Global().Get("Uint8Array").New(len(body))
	js.CopyBytesToJS(b, body)
	return js.ValueOf(map[string]any{"status": status, "headers": pairs, "body": b})
}
