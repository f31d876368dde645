//go:build js && wasm

package jsdo

import (
	"context"
	"errors"
	"fmt"
	"syscall/js"

	"github.com/airlockci/airlock/internal/identity"
)

// Await waits for a JavaScript promise. It must run on its own goroutine,
// never on the goroutine of a js.FuncOf callback (that would deadlock the
// Go runtime): use Promise to get one.
func Await(p js.Value) (js.Value, error) {
	type result struct {
		v   js.Value
		err error
	}
	ch := make(chan result, 1)
	then := js.FuncOf(func(this js.Value, args []js.Value) any {
		ch <- result{v: args[0]}
		return nil
	})
	catch := js.FuncOf(func(this js.Value, args []js.Value) any {
		msg := "promise rejected"
		if len(args) > 0 {
			if m := args[0].Get("message"); m.Type() == js.TypeString {
				msg = m.String()
			} else {
				msg = args[0].String()
			}
		}
		ch <- result{err: errors.New(msg)}
		return nil
	})
	defer then.Release()
	defer catch.Release()
	p.Call("then", then, catch)
	r := <-ch
	return r.v, r.err
}

// Promise returns a JavaScript promise resolved with fn's result, computed on
// a new goroutine (so fn may Await). A panic in fn rejects the promise.
func Promise(fn func() any) js.Value {
	executor := js.FuncOf(func(this js.Value, args []js.Value) any {
		resolve, reject := args[0], args[1]
		go func() {
			defer func() {
				if r := recover(); r != nil {
					reject.Invoke(js.Global().Get("Error").New(fmt.Sprint(r)))
				}
			}()
			resolve.Invoke(fn())
		}()
		return nil
	})
	p := js.Global().Get("Promise").New(executor)
	executor.Release()
	return p
}

// Fetcher is identity.Fetcher on the Workers fetch API, through the shim's
// fetchCapped helper: redirects are never followed (redirect: "manual") and
// at most limit+1 bytes of a body are read.
type Fetcher struct {
	fetchCapped js.Value
	limit       int
}

// NewFetcher binds the shim's fetchCapped(request, limit) helper.
func NewFetcher(fetchCapped js.Value, limit int) *Fetcher {
	return &Fetcher{fetchCapped: fetchCapped, limit: limit}
}

var _ identity.Fetcher = (*Fetcher)(nil)

// Fetch sends req. It must run on a goroutine that may block (see Await).
func (f *Fetcher) Fetch(ctx context.Context, req identity.HTTPRequest) (resp identity.HTTPResponse, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = jsErr(r)
		}
	}()
	headers := map[string]any{}
	for k, vs := range req.Header {
		for _, v := range vs {
			if prev, ok := headers[k]; ok {
				headers[k] = prev.(string) + ", " + v
			} else {
				headers[k] = v
			}
		}
	}
	d := map[string]any{"method": req.Method, "url": req.URL, "headers": headers}
	if req.Body != nil {
		b := uint8Array.New(len(req.Body))
		js.CopyBytesToJS(b, req.Body)
		d["body"] = b
	}
	v, err := Await(f.fetchCapped.Invoke(js.ValueOf(d), f.limit))
	if err != nil {
		return resp, fmt.Errorf("fetch %s: %w", req.URL, err)
	}
	resp.Status = v.Get("status").Int()
	resp.Header = map[string][]string{}
	h := v.Get("headers")
	keys := js.Global().Get("Object").Call("keys", h)
	for i := 0; i < keys.Length(); i++ {
		k := keys.Index(i).String()
		resp.Header[k] = []string{h.Get(k).String()}
	}
	body := v.Get("body")
	resp.Body = make([]byte, body.Get("length").Int())
	js.CopyBytesToGo(resp.Body, body)
	return resp, nil
}
