//go:build wasip1

package main

import (
	"os"

	"github.com/extism/go-pdk"

	"github.com/airlockci/airlock/plugins/internal/plog"
)

//go:wasmexport run
func run() int32 {
	return Run(pdk.Input(), os.DirFS("/workspace"), plog.PDK)
}
