// Command webhook-notify is an Airlock plugin that POSTs a JSON message to
// an https webhook (Slack-compatible: {"text": …}).
//
// Config:
//
//	{"url": "https://hooks.example.com/T000/B000", "message": "build ${BUILD} passed"}
//
// ${NAME} in the message is replaced by the step's env variable NAME (an
// unknown name is left as written). The step must allow the URL's host:
//
//	wasm:
//	  module: webhook-notify.wasm
//	  allow_hosts: [hooks.example.com]
//	  config: {url: "https://hooks.example.com/…", message: "deployed ${GIT_COMMIT}"}
//
// A 2xx answer passes the step; anything else fails it with exit status 1.
//
// With "dry_run": true the plugin builds the same request but does not send
// it: it logs the JSON payload it would POST and where to (the host, not the
// URL's path, which often holds a token), says that nothing was sent, and
// passes. It makes no HTTP request, so the step needs no allow_hosts. Airlock's
// own demo pipeline uses it: the local demo has no webhook to reach, and the
// sandbox refuses loopback and private addresses by design.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/plugins/webhook-notify.wasm ./plugins/webhook-notify
package main

// main is not called: the runner calls the exported "run" (run_wasip1.go).
func main() {}
