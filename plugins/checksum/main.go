// Command checksum is an Airlock plugin that prints the SHA-256 of workspace
// files in sha256sum format and can verify them against a SHA256SUMS file.
//
// Config:
//
//	{"files": ["dist/*.tar.gz", …], "verify": "dist/SHA256SUMS"}
//
// "files" are patterns relative to the workspace ("**" matches any number
// of directories); each must match at least one file. "verify" (optional)
// names a file in sha256sum format whose paths are relative to its own
// directory; every file it lists must exist and match, or the step fails
// with exit status 1.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o build/plugins/checksum.wasm ./plugins/checksum
package main

// main is not called: the runner calls the exported "run" (run_wasip1.go).
func main() {}
