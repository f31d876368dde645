// Command junit-summary is an Airlock plugin that reads test reports from
// the workspace, JUnit XML or Go's `go test -json` output (test2json events),
// and logs a summary. The step fails (exit 1) if any test failed or errored,
// a Go package did not build or did not finish, or a report cannot be read.
//
// Config:
//
//	{"files": ["reports/**/*.xml", "go-test.json"], "format": "auto",
//	 "slowest": 5, "max_output_lines": 20, "fail_on_failures": true}
//
// "files" are patterns relative to the workspace ("**" matches any number
// of directories); each must match at least one file. "format" is "auto"
// (the default: each file by its content), "junit" or "go-test-json".
//
// For JUnit: the totals, the "slowest" tests (default 5, 0 for the default,
// -1 for none), and every failure and error with its message.
//
// For go test -json: the totals and one line per package (passed, failed,
// skipped, time; "build failed"; "no test files"), then each failed test
// with its output, at most "max_output_lines" lines (default 20, -1 for
// none), and a failed build's output. A test whose only failure is that of
// a subtest is not counted (the subtest is). Lines of the stream that are
// not events (build output interleaved by `2>&1`, a truncated last line)
// are left out and the first few shown as a warning.
//
// "fail_on_failures": false reports failed tests but passes the step.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/plugins/junit-summary.wasm ./plugins/junit-summary
package main

// main is not called: the runner calls the exported "run" (run_wasip1.go).
func main() {}
