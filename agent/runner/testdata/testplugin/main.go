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
	"time"

	"github.com/extism/go-pdk"
)

func main() {}

type input struct {
	Config struct {
		Status int    `json:"status"`
		MiB    int    `json:"mib"`
		Path   string `json:"path"`
		Wait   string `json:"wait"`
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

// http tries the network, which the runner allows nowhere.
//
//go:wasmexport http
func httpExport() int32 {
	res := pdk.NewHTTPRequest(pdk.MethodGet, "http://127.0.0.1:9/").Send()
	pdk.Log(pdk.LogInfo, fmt.Sprintf("http status %d", res.Status()))
	return 0
}
