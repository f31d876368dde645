// Command junit-summary is an Airlock plugin that reads JUnit XML test
// reports from the workspace and logs a summary: counts, the slowest tests,
// and every failure and error with its message. The step fails (exit 1) if
// any test failed or errored, or if a report cannot be read.
//
// Config:
//
//	{"files": ["reports/**/*.xml"], "slowest": 5}
//
// "files" are patterns relative to the workspace ("**" matches any number
// of directories); each must match at least one file. "slowest" is how many
// of the slowest tests to list (default 5, 0 for the default, -1 for none).
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/plugins/junit-summary.wasm ./plugins/junit-summary
package main

// main is not called: the runner calls the exported "run" (run_wasip1.go).
func main() {}
