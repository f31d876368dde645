//go:build wasip1

package plog

import "github.com/extism/go-pdk"

// PDK logs through Extism's log host functions.
func PDK(level Level, line string) {
	switch level {
	case Warn:
		pdk.Log(pdk.LogWarn, line)
	case Error:
		pdk.Log(pdk.LogError, line)
	default:
		pdk.Log(pdk.LogInfo, line)
	}
}
