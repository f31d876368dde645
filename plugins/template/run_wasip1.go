//go:build wasip1

package main

import "github.com/extism/go-pdk"

// run is the entry point the runner calls; its result is the step's exit
// status.
//
//go:wasmexport run
func run() int32 {
	lines, status := greet(pdk.Input())
	for _, l := range lines {
		pdk.Log(pdk.LogInfo, l)
	}
	return status
}
