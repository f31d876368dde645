//go:build js && wasm

// Command edge is Airlock's control plane compiled to WebAssembly. One
// instance boots inside each Scheduler Durable Object (see worker.mjs): the
// shim hands it the object's state and it registers the handlers the shim
// forwards every event to. All decisions are in package scheduler.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"syscall/js"
	"time"

	"github.com/airlockci/airlock/edge/internal/jsdo"
	"github.com/airlockci/airlock/edge/scheduler"
	"github.com/airlockci/airlock/internal/identity"
)

func main() {
	host := js.Global().Get(os.Getenv("AIRLOCK_HOST"))
	if host.IsUndefined() {
		fmt.Println("airlock edge: AIRLOCK_HOST names no host object; start me from worker.mjs")
		return
	}
	logf := func(format string, args ...any) {
		js.Global().Get("console").Call("log", "airlock: "+fmt.Sprintf(format, args...))
	}
	ctx, env := host.Get("ctx"), host.Get("env")
	db, err := jsdo.NewSQL(ctx.Get("storage"), host.Get("tx"))
	if err != nil {
		host.Call("failed", err.Error())
		return
	}
	_ = env
	sched, err := scheduler.New(db, jsdo.NewSockets(ctx), jsdo.NewAlarm(ctx.Get("storage")), time.Now, scheduler.Config{Log: logf})
	if err != nil {
		host.Call("failed", err.Error())
		return
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

	// Every handler recovers: a panic must not end the instance for all.
	guard := func(name string, fn func(args []js.Value) any) js.Func {
		return js.FuncOf(func(this js.Value, args []js.Value) (ret any) {
			defer func() {
				if r := recover(); r != nil {
					logf("%s: panic: %v", name, r)
					ret = js.ValueOf(map[string]any{"status": 500, "body": `{"error":"internal error"}`})
				}
			}()
			return fn(args)
		})
	}

	host.Set("maxBody", scheduler.MaxBodyBytes)
	// fetch(request descriptor) → response descriptor
	host.Set("fetch", guard("fetch", func(args []js.Value) any {
		d := args[0]
		req := scheduler.Request{Method: d.Get("method").String(), URL: d.Get("url").String(), Header: map[string]string{}}
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
		resp := sched.Serve(req)
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
	host.Set("message", guard("message", func(args []js.Value) any {
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
	host.Set("close", guard("close", func(args []js.Value) any {
		if err := sched.Closed(args[0].String()); err != nil {
			logf("close of %s: %v", args[0].String(), err)
		}
		return nil
	}))
	host.Set("alarm", guard("alarm", func(args []js.Value) any {
		if err := sched.Alarm(); err != nil {
			logf("alarm: %v", err)
		}
		return nil
	}))
	host.Call("ready")
	select {}
}

// describe turns a response into the descriptor the shim builds a Response from.
func describe(resp scheduler.Response) js.Value {
	headers := map[string]any{}
	for k, v := range resp.Header {
		headers[k] = v
	}
	out := map[string]any{"status": resp.Status, "headers": headers}
	if resp.Upgrade != "" {
		out["upgrade"] = resp.Upgrade
	} else {
		body := js.Global().Get("Uint8Array").New(len(resp.Body))
		js.CopyBytesToJS(body, resp.Body)
		out["body"] = body
	}
	return js.ValueOf(out)
}
