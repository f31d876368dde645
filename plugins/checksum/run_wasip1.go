//go:build wasip1

package main

import (
	"os"

	"github.com/extism/go-pdk"
)

//go:wasmexport run
func run() int32 {
	return Run(pdk.Input(), os.DirFS("/workspace"), func(level Level, line string) {
		switch level {
		case Warn:
			pdk.Log(pdk.LogWarn, line)
		case Error:
			pdk.Log(pdk.LogError, line)
		default:
			pdk.Log(pdk.LogInfo, line)
		}
	})
}
