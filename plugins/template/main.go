// Command template is the smallest Airlock plugin: copy this folder to start
// a new one. It greets whoever its config names and echoes the step's env
// keys. See ../README.md for the plugin contract.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/plugins/template.wasm ./plugins/template
package main

// main is never called in a plugin (the runner calls the exported "run");
// Go still requires it, and it lets the package build natively for go vet
// and for the tests of the pure logic in greet.go.
func main() {}
