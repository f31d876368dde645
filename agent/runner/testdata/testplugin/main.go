//go:build wasip1

// Command testplugin is a plugin whose exports misbehave in the ways the
// Wasm runner must survive. The runner's tests build it with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared ./agent/runner/testdata/testplugin
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"
	"unsafe"

	"github.com/extism/go-pdk"
)

func main() {}

type input struct {
	Config struct {
		Status int      `json:"status"`
		MiB    int      `json:"mib"`
		Path   string   `json:"path"`
		Paths  []string `json:"paths"`
		Wait   string   `json:"wait"`
		Times  int      `json:"times"`
		URL    string   `json:"url"`
		Method string   `json:"method"`
		Body   string   `json:"body"`
		Name   string   `json:"name"`
	} `json:"config"`
	Env map[string]string `json:"env"`
}

func readInput() input {
	var in input
	if err := pdk.InputJSON(&in); err != nil {
		panic(err)
	}
	return in
}

// run echoes its input and returns config.status.
//
//go:wasmexport run
func run() int32 {
	in := readInput()
	pdk.Log(pdk.LogInfo, "input "+pdk.InputString())
	pdk.Log(pdk.LogWarn, "careful")
	pdk.OutputString(fmt.Sprintf("status %d", in.Config.Status))
	return int32(in.Config.Status)
}

//go:wasmexport loop
func loop() int32 {
	pdk.Log(pdk.LogInfo, "looping")
	n := 0
	for {
		n++
	}
}

// alloc allocates and touches config.mib MiB.
//
//go:wasmexport alloc
func alloc() int32 {
	in := readInput()
	b := make([]byte, in.Config.MiB<<20)
	for i := range b {
		b[i] = byte(i)
	}
	pdk.Log(pdk.LogInfo, fmt.Sprintf("allocated %d MiB", len(b)>>20))
	return 0
}

//go:wasmexport panic
func panicExport() int32 {
	panic("boom")
}

//go:wasmexport seterror
func setError() int32 {
	pdk.SetErrorString("bad config: no files")
	return 4
}

//go:wasmexport stdio
func stdio() int32 {
	fmt.Println("to stdout")
	fmt.Fprintln(os.Stderr, "to stderr")
	return 0
}

// capabilities reports what the sandbox lets the plugin do.
//
//go:wasmexport capabilities
func capabilities() int32 {
	in := readInput()
	b, err := os.ReadFile("/workspace/" + in.Config.Path)
	pdk.Log(pdk.LogInfo, fmt.Sprintf("read workspace: %q %v", b, err))
	err = os.WriteFile("/workspace/new", []byte("x"), 0o644)
	pdk.Log(pdk.LogInfo, fmt.Sprintf("write workspace: %v", err != nil))
	_, err = os.ReadFile("/etc/passwd")
	pdk.Log(pdk.LogInfo, fmt.Sprintf("read /etc/passwd: %v", err != nil))
	env, _ := json.Marshal(os.Environ())
	pdk.Log(pdk.LogInfo, "environ "+string(env))
	return 0
}

// wait logs "first", then waits for the file config.wait to appear in the
// workspace before it logs "second".
//
//go:wasmexport wait
func wait() int32 {
	in := readInput()
	pdk.Log(pdk.LogInfo, "first")
	for {
		if _, err := os.Stat("/workspace/" + in.Config.Wait); err == nil {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	pdk.Log(pdk.LogInfo, "second")
	return 0
}

// http tries plain http, which the runner allows nowhere.
//
//go:wasmexport http
func httpExport() int32 {
	res := pdk.NewHTTPRequest(pdk.MethodGet, "http://127.0.0.1:9/").Send()
	pdk.Log(pdk.LogInfo, fmt.Sprintf("http status %d", res.Status()))
	return 0
}

// fetch sends config.method (GET by default) to config.url with
// config.body, and logs the status, the Location header and the body.
//
//go:wasmexport fetch
func fetch() int32 {
	in := readInput()
	method := pdk.MethodGet
	if in.Config.Method == "POST" {
		method = pdk.MethodPost
	}
	req := pdk.NewHTTPRequest(method, in.Config.URL)
	if in.Config.Body != "" {
		req.SetHeader("content-type", "text/plain")
		req.SetBody([]byte(in.Config.Body))
	}
	res := req.Send()
	body := res.Body()
	if len(body) > 64 {
		body = append(body[:64:64], "…"...)
	}
	pdk.Log(pdk.LogInfo, fmt.Sprintf("status %d location %q body %q", res.Status(), res.Headers()["location"], body))
	return 0
}

// secret logs whether the secret config.name has the value config.body
// (never the value itself) and its length.
//
//go:wasmexport secret
func secret() int32 {
	in := readInput()
	v := airlockSecret(in.Config.Name)
	pdk.Log(pdk.LogInfo, fmt.Sprintf("secret %s: %d bytes, matches %v", in.Config.Name, len(v), v == in.Config.Body))
	return 0
}

//go:wasmimport extism:host/user airlock_secret
func airlockSecretImport(name uint64) uint64

func airlockSecret(name string) string {
	mem := pdk.AllocateString(name)
	defer mem.Free()
	off := airlockSecretImport(mem.Offset())
	if off == 0 {
		return ""
	}
	v := pdk.FindMemory(off)
	defer v.Free()
	return string(v.ReadBytes())
}

// write writes config.body to each of config.paths (relative to
// /workspace) and logs each result.
//
//go:wasmexport write
func write() int32 {
	in := readInput()
	for _, p := range in.Config.Paths {
		err := os.WriteFile("/workspace/"+p, []byte(in.Config.Body), 0o644)
		pdk.Log(pdk.LogInfo, fmt.Sprintf("write %s: %v", p, err))
	}
	err := os.Symlink("/etc/passwd", "/workspace/link-out")
	pdk.Log(pdk.LogInfo, fmt.Sprintf("symlink out: %v", err != nil))
	err = os.Symlink("../../etc/passwd", "/workspace/link-up")
	pdk.Log(pdk.LogInfo, fmt.Sprintf("symlink up: %v", err != nil))
	return 0
}

// readloop reads config.path config.times times and counts the contents it
// saw, for a test that swaps a symbolic link meanwhile.
//
//go:wasmexport readloop
func readloop() int32 {
	in := readInput()
	seen := map[string]int{}
	for range in.Config.Times {
		b, err := os.ReadFile("/workspace/" + in.Config.Path)
		if err != nil {
			seen["error"]++
			continue
		}
		seen[strings.TrimSpace(string(b))]++
	}
	out, _ := json.Marshal(seen)
	pdk.Log(pdk.LogInfo, "seen "+string(out))
	return 0
}

// rawopen opens each of config.paths with WASI's path_open relative to
// the first preopened directory (fd 3), below any cleaning Go's os package
// does, and logs the errno (0 for success).
//
//go:wasmexport rawopen
func rawopen() int32 {
	in := readInput()
	for _, p := range in.Config.Paths {
		b := []byte(p)
		var fd int32
		errno := pathOpen(3, 1, unsafe.Pointer(unsafe.SliceData(b)), uint32(len(b)), 0, rightFDRead, rightFDRead, 0, unsafe.Pointer(&fd))
		pdk.Log(pdk.LogInfo, fmt.Sprintf("open %s: errno %d", p, errno))
	}
	return 0
}

// rightFDRead is WASI's fd_read right: open for reading only.
const rightFDRead = 1 << 1

//go:wasmimport wasi_snapshot_preview1 path_open
func pathOpen(fd int32, dirflags uint32, path unsafe.Pointer, pathLen uint32, oflags uint32, rightsBase, rightsInheriting uint64, fdflags uint32, resultFD unsafe.Pointer) uint32

// noop returns at once: the cost of a step is then the runner's own.
//
//go:wasmexport noop
func noop() int32 { return 0 }
