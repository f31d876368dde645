//go:build wasip1

// Command statefulplugin keeps state in a global and in its workspace, for
// the tests that check no step sees another's. The runner's tests build it
// with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared ./agent/runner/testdata/statefulplugin
package main

import (
	"fmt"
	"os"

	"github.com/extism/go-pdk"
)

func main() {}

// remembered is set by remember; a fresh instance starts without it.
var remembered string

// initialised counts the package's initialisations in this instance.
var initialised = 0

func init() {
	initialised++
	fmt.Println("statefulplugin initialised")
}

type input struct {
	Config struct {
		Mark string `json:"mark"`
		Path string `json:"path"`
	} `json:"config"`
}

// remember keeps config.mark in a global, writes it to the file
// config.path in the workspace, and prints it.
//
//go:wasmexport remember
func remember() int32 {
	var in input
	if err := pdk.InputJSON(&in); err != nil {
		panic(err)
	}
	remembered = in.Config.Mark
	fmt.Println("stdout " + in.Config.Mark)
	fmt.Fprintln(os.Stderr, "stderr "+in.Config.Mark)
	pdk.Log(pdk.LogInfo, "log "+in.Config.Mark)
	err := os.WriteFile("/workspace/"+in.Config.Path, []byte(in.Config.Mark), 0o644)
	pdk.Log(pdk.LogInfo, fmt.Sprintf("write: %v", err))
	return 0
}

// recall logs the global, the initialisation count, what it reads at
// config.path in the workspace, and the workspace's entries.
//
//go:wasmexport recall
func recall() int32 {
	var in input
	if err := pdk.InputJSON(&in); err != nil {
		panic(err)
	}
	pdk.Log(pdk.LogInfo, fmt.Sprintf("remembered %q initialised %d", remembered, initialised))
	b, err := os.ReadFile("/workspace/" + in.Config.Path)
	pdk.Log(pdk.LogInfo, fmt.Sprintf("read %q %v", b, err))
	entries, err := os.ReadDir("/workspace")
	names := []string{}
	for _, e := range entries {
		names = append(names, e.Name())
	}
	pdk.Log(pdk.LogInfo, fmt.Sprintf("entries %q %v", names, err))
	return 0
}
