// Package plog is the example plugins' logging: their logic logs through a
// Logger, which natively is whatever a test passes and in the sandbox is
// PDK, the Extism log host function (one log line of the step each).
package plog

// Level is how a log line is shown.
type Level int

// Levels: the runner prefixes warnings with "warning: " and errors with
// "error: ".
const (
	Info Level = iota
	Warn
	Error
)

// Logger receives a plugin's log lines as they are produced.
type Logger func(level Level, line string)
