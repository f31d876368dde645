// Package pipeline parses Airlock pipelines: the Buildkite pipeline syntax for
// the parts Airlock supports, plus Airlock's Wasm plugin steps
// and container steps.
//
// Parse is the one entry point. It reads untrusted YAML and either returns a
// fully validated Pipeline (keys unique, dependencies present and acyclic,
// every value exactly as written) or an *Errors listing every problem with
// its file, line and column. Keys that Buildkite knows but Airlock does not
// support yet are refused with "not supported yet: <key>", never ignored.
//
// The package has no dependency on the agent or the control plane and builds
// for js/wasm, wasip1 and native targets.
package pipeline

import (
	"encoding/json"
	"time"
)

// Pipeline is a parsed, validated pipeline.
type Pipeline struct {
	// Env applies to every step; step env overrides it. Order as written.
	Env []EnvVar
	// Secrets apply to every step; a step's own secret of the same name
	// overrides one. Use SecretsFor to get a step's secrets.
	Secrets []Secret
	// Steps in file order. `wait` steps are gone: their effect is in the
	// DependsOn of the steps after them.
	Steps []*Step
}

// EnvVar is one environment variable, its value exactly as written in the file.
type EnvVar struct {
	Name  string
	Value string
}

// Step is one command or Wasm plugin step.
type Step struct {
	// Key is unique in the pipeline. Steps without a key get "step-N", N being
	// the 1-based position among the file's steps (waits included).
	Key   string
	Label string
	// Commands: from `command` (string or list) or `commands`. Empty for a
	// Wasm plugin step.
	Commands []string
	// DependsOn in order: explicit depends_on first, then those implied by
	// earlier `wait` steps.
	DependsOn []Dependency
	Env       []EnvVar
	// Agents are the tags an agent must have (`agents:` map, or list of
	// "k=v"). A step without a "queue" tag runs on the "default" queue.
	Agents map[string]string
	// Retry holds `retry.automatic` rules; nil when absent.
	Retry            []RetryRule
	TimeoutInMinutes int
	SoftFail         SoftFail
	// Wasm is set for an Airlock Wasm plugin step.
	Wasm *WasmStep
	// Container is set for a step that runs in a container (`image:`, or
	// Buildkite's docker plugin).
	Container *ContainerStep
	// Secrets the step declares (`secrets:`), beyond the pipeline's.
	Secrets []Secret
	// Line and Column locate the step in the file.
	Line, Column int
}

// Dependency is one entry of depends_on.
type Dependency struct {
	Key          string
	AllowFailure bool
}

// RetryRule is one `retry.automatic` rule.
type RetryRule struct {
	// ExitStatuses matched; empty means any non-zero exit status ("*").
	ExitStatuses []int
	Limit        int
}

// SoftFail says which failures do not fail the run.
type SoftFail struct {
	// All is `soft_fail: true`.
	All bool
	// ExitStatuses from `soft_fail: [{exit_status: N}]`.
	ExitStatuses []int
}

// Matches reports whether exit status code is soft-failed.
func (s SoftFail) Matches(code int) bool {
	if s.All {
		return true
	}
	for _, c := range s.ExitStatuses {
		if c == code {
			return true
		}
	}
	return false
}

// WasmStep is an Airlock Wasm plugin step. A plugin gets no capability it
// does not declare:
//
//	steps:
//	  - key: checksums
//	    wasm:
//	      module: tools/checksum.wasm  # plugin-path name, workspace path, or https URL
//	      sha256: 9f86d0…              # required for a workspace path or a URL
//	      function: run                # default "run"
//	      config: {files: ["dist/*"]}
//	      workspace: read-only         # none (default), read-only or read-write
//	      allow_hosts: [hooks.example.com]  # https requests only to these hosts
//	      timeout: 30s                 # optional, under the agent's maximum
//	      memory: 64MiB                # optional, under the agent's maximum
type WasmStep struct {
	Module   string
	SHA256   string
	Function string
	// Config is the `config` mapping converted to JSON (scalars as strings,
	// exactly as written).
	Config json.RawMessage
	// Workspace is WorkspaceReadOnly, WorkspaceReadWrite, or empty for no
	// access to the job's workspace (`workspace: none`, the default).
	Workspace string
	// AllowHosts are the host names (no scheme, no port) the plugin may send
	// https requests to, as written; none by default.
	AllowHosts []string
	// Timeout caps the plugin's run; 0 when not set.
	Timeout time.Duration
	// MemoryBytes caps the plugin's linear memory; 0 when not set.
	MemoryBytes int64
}

// Values of WasmStep.Workspace.
const (
	WorkspaceReadOnly  = "read-only"
	WorkspaceReadWrite = "read-write"
)
