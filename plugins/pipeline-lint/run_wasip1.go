//go:build wasip1

package main

import (
	"os"

	"github.com/extism/go-pdk"
)

//go:wasmexport run
func run() int32 {
	return Run(pdk.Input(), os.DirFS("/workspace"), func(errLine bool, line string) {
		if errLine {
			pdk.Log(pdk.LogError, line)
		} else {
			pdk.Log(pdk.LogInfo, line)
		}
	})
}
