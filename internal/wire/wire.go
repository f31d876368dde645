// Package wire defines the frames the agent and the control plane exchange over
// the agent's outbound WebSocket, and their CBOR encoding.
//
// Both sides import this package and nothing else to speak the protocol, so a
// change here is a change for both. Every frame is one WebSocket binary message
// holding one CBOR-encoded Frame. Decoding is bounded: a frame larger than
// MaxFrameSize, nested deeper than maxNesting, or with more than maxItems in one
// array or map is refused before it is built.
//
// Lifecycle of a connection:
//
//	agent                          control plane
//	  ── WebSocket upgrade (identity proof) ──►   refused unless proven
//	  ── Hello{name, tags, running jobs} ─────►
//	  ◄─ Welcome{agent id, heartbeat} ────────
//	  ◄─ Assign{job} ─────────────────────────    whenever a job it can run becomes runnable
//	  ── Accept{job} ─────────────────────────►
//	  ── Log{job, seq, data} … ───────────────►
//	  ◄─ LogAck{job, seq} ────────────────────    agent drops acknowledged chunks
//	  ── Finished{job, exit status} ──────────►
//	  ◄─ FinishedAck{job} ────────────────────    agent forgets the job
//	  ── Heartbeat ──────────────────────────►    every HeartbeatInterval
//	  ◄─ Cancel{job} ─────────────────────────    at any time while it runs
//	  ◄─ Challenge{challenge, deadline} ──────    before the proven credentials expire
//	  ── Proof{proof} ────────────────────────►   or the connection is closed
//
// A connection that drops is not the end of a job: the agent keeps running it,
// reconnects, lists it in Hello.Running and re-sends every unacknowledged log
// chunk and its Finished frame. The control plane ignores chunks it already has
// (by sequence number), so the log arrives exactly once and in order.
package wire

import (
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"
)

// Version is the protocol version. Both sides send it in every frame; a
// control plane refuses frames of a version it does not speak.
//
// History:
//   - 1 (2026-12-03): hello, welcome, assign, accept, log, log ack, finished,
//     finished ack, heartbeat, cancel, error.
//   - 2 (2026-12-03): challenge and proof, so an agent proves itself again on
//     an open connection before its credentials expire; a job carries its
//     secrets as references (Job.Secrets), its container (Job.Container)
//     and its Wasm plugin's capabilities (workspace, hosts, timeout,
//     memory). Decoding refuses unknown fields, so agent and control plane
//     upgrade together at a version change.
const Version = 2

// MaxFrameSize is the largest encoded frame either side accepts.
const MaxFrameSize = 1 << 20

// MaxLogChunk is the largest log payload in one Log frame. It stays well
// under a Durable Object's 128 KiB per-value storage limit.
const MaxLogChunk = 64 << 10

// HeartbeatInterval is how often an agent sends a heartbeat. Cloudflare closes
// WebSockets idle for about 100 s, so this stays well under that.
const HeartbeatInterval = 20 * time.Second

// LeaseTimeout is how long after its last heartbeat an agent's jobs are
// considered lost and re-queued.
const LeaseTimeout = 90 * time.Second

const (
	maxNesting = 8
	maxItems   = 4096
)

// Type names a frame's kind.
type Type string

// Frame types.
const (
	THello       Type = "hello"
	TWelcome     Type = "welcome"
	TAssign      Type = "assign"
	TAccept      Type = "accept"
	TLog         Type = "log"
	TLogAck      Type = "log_ack"
	TFinished    Type = "finished"
	TFinishedAck Type = "finished_ack"
	THeartbeat   Type = "heartbeat"
	TCancel      Type = "cancel"
	TError       Type = "error"
	TChallenge   Type = "challenge"
	TProof       Type = "proof"
)

// Frame is one message. Exactly the field matching Type is set.
type Frame struct {
	V    int  `cbor:"v"`
	Type Type `cbor:"t"`

	Hello       *Hello       `cbor:"hello,omitempty"`
	Welcome     *Welcome     `cbor:"welcome,omitempty"`
	Assign      *Job         `cbor:"assign,omitempty"`
	Accept      *JobRef      `cbor:"accept,omitempty"`
	Log         *Log         `cbor:"log,omitempty"`
	LogAck      *LogAck      `cbor:"log_ack,omitempty"`
	Finished    *Finished    `cbor:"finished,omitempty"`
	FinishedAck *JobRef      `cbor:"finished_ack,omitempty"`
	Heartbeat   *Heartbeat   `cbor:"heartbeat,omitempty"`
	Cancel      *JobRef      `cbor:"cancel,omitempty"`
	Error       *ErrorReason `cbor:"error,omitempty"`
	Challenge   *Challenge   `cbor:"challenge,omitempty"`
	Proof       *Proof       `cbor:"proof,omitempty"`
}

// Challenge asks the agent to prove its identity again: its credentials
// expire soon, and the connection is closed at DeadlineMS unless a Proof
// answering this challenge arrives and verifies.
type Challenge struct {
	Challenge  string `cbor:"challenge"`
	DeadlineMS int64  `cbor:"deadline_ms"`
}

// Proof answers a Challenge: an encoded identity proof, the same as the
// Airlock-Identity-Proof header of the connection's upgrade request.
type Proof struct {
	Proof string `cbor:"proof"`
}

// Hello is the agent's first frame on a connection.
type Hello struct {
	Name    string            `cbor:"name"`
	Version string            `cbor:"version"`
	Tags    map[string]string `cbor:"tags"`
	// Slots is how many jobs the agent runs at once (at least 1).
	Slots int `cbor:"slots"`
	// Running lists the jobs the agent is still running (or has finished but
	// not had acknowledged) from an earlier connection.
	Running []JobRef `cbor:"running,omitempty"`
}

// Welcome answers Hello.
type Welcome struct {
	AgentID string `cbor:"agent_id"`
	// HeartbeatSeconds is the interval the control plane expects.
	HeartbeatSeconds int `cbor:"heartbeat_s"`
	// Unknown lists jobs from Hello.Running that the control plane no longer
	// holds for this agent (finished, re-queued or cancelled): the agent stops
	// them and forgets them.
	Unknown []JobRef `cbor:"unknown,omitempty"`
}

// JobRef names one attempt of one job.
type JobRef struct {
	ID      string `cbor:"id"`
	Attempt int    `cbor:"attempt"`
}

// Job is one step of a run, as handed to an agent.
type Job struct {
	JobRef
	RunID string `cbor:"run"`
	Key   string `cbor:"key"`
	Label string `cbor:"label,omitempty"`
	// Commands run one after another in one shell; the first failure ends the step.
	Commands []string `cbor:"commands,omitempty"`
	// Env is the step's environment in order: pipeline env, then step env.
	Env            []EnvVar `cbor:"env,omitempty"`
	TimeoutMinutes int      `cbor:"timeout_min,omitempty"`
	Plugin         *Plugin  `cbor:"plugin,omitempty"`
	// Container, when set, runs the Commands in a container instead of on
	// the agent's host.
	Container *Container `cbor:"container,omitempty"`
	// Repository and Commit say what to check out into the workspace.
	Repository string `cbor:"repo,omitempty"`
	Commit     string `cbor:"commit,omitempty"`
	// Secrets are the secrets the step declares, as references only: the
	// agent resolves them itself, so no secret value ever passes through the
	// control plane. Optional, so older agents and control planes still
	// speak version 2 (an older agent refuses a frame that carries it).
	Secrets []SecretRef `cbor:"secrets,omitempty"`
}

// SecretRef is one secret a step declares: the environment variable it is
// put in and where the agent finds it (a secretref reference, such as
// vault://secret/ci/npm#token).
type SecretRef struct {
	Env string `cbor:"env" json:"env"`
	Ref string `cbor:"ref" json:"ref"`
}

// EnvVar is one environment variable, value exactly as written.
type EnvVar struct {
	Name  string `cbor:"n"`
	Value string `cbor:"v"`
}

// Plugin is a Wasm plugin step.
type Plugin struct {
	// Module is a file name looked up in the agent's plugin path, a path
	// relative to the job workspace, or an https URL.
	Module string `cbor:"module"`
	// SHA256 pins the module's content (hex); empty means not pinned.
	SHA256   string `cbor:"sha256,omitempty"`
	Function string `cbor:"function,omitempty"`
	// Config is the step's plugin configuration as JSON.
	Config []byte `cbor:"config,omitempty"`
	// The capabilities the step grants; the zero value grants none.
	//
	// Workspace is "read-only" or "read-write" for access to the job's
	// workspace; empty for none.
	Workspace string `cbor:"workspace,omitempty"`
	// AllowHosts are the host names the plugin may send https requests to.
	AllowHosts []string `cbor:"allow_hosts,omitempty"`
	// TimeoutMillis caps the plugin's run; 0 leaves the step's timeout and
	// the agent's maximum.
	TimeoutMillis int64 `cbor:"timeout_ms,omitempty"`
	// MemoryBytes caps the plugin's linear memory; 0 leaves the agent's cap.
	MemoryBytes int64 `cbor:"memory,omitempty"`
}

// Container is a container step: the step's commands run in Image through
// the agent's Docker Engine API, with the job workspace mounted at Workdir.
type Container struct {
	// Image is an image reference; the agent pulls it only if it is absent.
	Image string `cbor:"image" json:"image"`
	// Entrypoint replaces the image's entrypoint; the commands are then
	// its arguments, one each, instead of one `/bin/sh -e -c` script.
	Entrypoint string `cbor:"entrypoint,omitempty" json:"entrypoint,omitempty"`
	// Command is the container's command (exec form) for a step without
	// commands (the docker plugin's `command`).
	Command []string `cbor:"command,omitempty" json:"command,omitempty"`
	// Workdir is where the workspace is mounted and the step runs; empty
	// means /workspace.
	Workdir string `cbor:"workdir,omitempty" json:"workdir,omitempty"`
	// Environment is the docker plugin's `environment`: "KEY=VALUE" sets a
	// variable, a bare "KEY" passes the step's (or the agent's) value.
	Environment []string `cbor:"environment,omitempty" json:"environment,omitempty"`
}

// Log is a chunk of a job's output. Seq starts at 1 and increases by one per
// chunk of the attempt.
type Log struct {
	JobRef
	Seq  int64  `cbor:"seq"`
	Data []byte `cbor:"data"`
}

// LogAck acknowledges every chunk of an attempt up to and including Seq.
type LogAck struct {
	JobRef
	Seq int64 `cbor:"seq"`
}

// Finished reports how an attempt ended.
type Finished struct {
	JobRef
	// ExitStatus is the step's exit status; -1 when it was killed.
	ExitStatus int `cbor:"exit"`
	// Reason explains a failure that is not an exit status: "timed out",
	// "cancelled", or an error such as a plugin that could not be loaded.
	Reason string `cbor:"reason,omitempty"`
	// LastSeq is the sequence number of the attempt's last log chunk, so the
	// control plane knows when it has the whole log.
	LastSeq    int64 `cbor:"last_seq"`
	StartedMS  int64 `cbor:"started_ms"`
	FinishedMS int64 `cbor:"finished_ms"`
}

// Heartbeat keeps a connection and its jobs' leases alive.
type Heartbeat struct {
	SentMS int64 `cbor:"sent_ms"`
}

// ErrorReason is sent by the control plane before it closes a connection
// because of a frame it refused.
type ErrorReason struct {
	Message string `cbor:"message"`
}

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		MaxNestedLevels:   maxNesting,
		MaxArrayElements:  maxItems,
		MaxMapPairs:       maxItems,
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// ErrFrameTooLarge is returned for a frame over MaxFrameSize.
var ErrFrameTooLarge = errors.New("frame too large")

// Encode encodes f, setting its version.
func Encode(f Frame) ([]byte, error) {
	f.V = Version
	b, err := encMode.Marshal(f)
	if err != nil {
		return nil, fmt.Errorf("encode %s frame: %w", f.Type, err)
	}
	if len(b) > MaxFrameSize {
		return nil, fmt.Errorf("encode %s frame: %d bytes: %w", f.Type, len(b), ErrFrameTooLarge)
	}
	return b, nil
}

// Decode decodes and validates one frame.
func Decode(b []byte) (Frame, error) {
	var f Frame
	if len(b) > MaxFrameSize {
		return f, fmt.Errorf("decode frame: %d bytes, limit %d: %w", len(b), MaxFrameSize, ErrFrameTooLarge)
	}
	if err := decMode.Unmarshal(b, &f); err != nil {
		return Frame{}, fmt.Errorf("decode frame: %w", err)
	}
	if err := f.validate(); err != nil {
		return Frame{}, fmt.Errorf("decode frame: %w", err)
	}
	return f, nil
}

func (f *Frame) validate() error {
	if f.V != Version {
		return fmt.Errorf("protocol version %d, want %d", f.V, Version)
	}
	set := 0
	for _, present := range []bool{f.Hello != nil, f.Welcome != nil, f.Assign != nil, f.Accept != nil,
		f.Log != nil, f.LogAck != nil, f.Finished != nil, f.FinishedAck != nil, f.Heartbeat != nil,
		f.Cancel != nil, f.Error != nil, f.Challenge != nil, f.Proof != nil} {
		if present {
			set++
		}
	}
	if set != 1 {
		return fmt.Errorf("%q frame carries %d bodies, want exactly 1", f.Type, set)
	}
	ok := false
	switch f.Type {
	case THello:
		ok = f.Hello != nil
	case TWelcome:
		ok = f.Welcome != nil
	case TAssign:
		ok = f.Assign != nil
	case TAccept:
		ok = f.Accept != nil
	case TLog:
		ok = f.Log != nil
		if ok && len(f.Log.Data) > MaxLogChunk {
			return fmt.Errorf("log chunk of %d bytes, limit %d", len(f.Log.Data), MaxLogChunk)
		}
		if ok && f.Log.Seq < 1 {
			return fmt.Errorf("log chunk sequence %d, want >= 1", f.Log.Seq)
		}
	case TLogAck:
		ok = f.LogAck != nil
	case TFinished:
		ok = f.Finished != nil
	case TFinishedAck:
		ok = f.FinishedAck != nil
	case THeartbeat:
		ok = f.Heartbeat != nil
	case TCancel:
		ok = f.Cancel != nil
	case TError:
		ok = f.Error != nil
	case TChallenge:
		ok = f.Challenge != nil
	case TProof:
		ok = f.Proof != nil
	default:
		return fmt.Errorf("unknown frame type %q", f.Type)
	}
	if !ok {
		return fmt.Errorf("%q frame carries the body of another type", f.Type)
	}
	return nil
}
