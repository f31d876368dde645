// Command pipeline-lint is an Airlock plugin that validates pipeline files in
// the workspace with the same parser the control plane uses, so a broken
// pipeline fails its own build with file:line:column errors.
//
// Config:
//
//	{"files": [".airlock/pipeline.yml", …]}
//
// "files" are workspace paths or patterns ("**" matches any number of
// directories); each must match at least one file. Exit status 1 when any
// file has an error.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/plugins/pipeline-lint.wasm ./plugins/pipeline-lint
package main

// main is not called: the runner calls the exported "run" (run_wasip1.go).
func main() {}
