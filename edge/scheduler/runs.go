package scheduler

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/airlockci/airlock/internal/pipeline"
	"github.com/airlockci/airlock/internal/wire"
)

// Job states. A job moves waiting → queued → assigned → running → one of
// the terminal states; a lost or retried attempt goes back to queued.
const (
	StateWaiting   = "waiting"   // dependencies not finished
	StateQueued    = "queued"    // runnable, no agent yet
	StateAssigned  = "assigned"  // pushed to an agent, not yet accepted
	StateRunning   = "running"   // accepted by an agent
	StatePassed    = "passed"    // exit status 0
	StateFailed    = "failed"    // non-zero exit, timed out, or lost too often
	StateCancelled = "cancelled" // cancelled by a user
	StateSkipped   = "skipped"   // a dependency failed
)

// Run states.
const (
	RunRunning   = "running"
	RunPassed    = "passed"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// maxLostAttempts is how often a job may lose its agent before it fails
// instead of being queued again.
const maxLostAttempts = 3

func terminal(state string) bool {
	switch state {
	case StatePassed, StateFailed, StateCancelled, StateSkipped:
		return true
	}
	return false
}

// SubmitRequest is the body of POST /v1/runs.
type SubmitRequest struct {
	// Pipeline is the pipeline file's YAML text.
	Pipeline string `json:"pipeline"`
	// Filename names the file in error messages (".airlock/pipeline.yml").
	Filename   string `json:"filename"`
	Repository string `json:"repository"`
	Commit     string `json:"commit"`
	Branch     string `json:"branch"`
	Message    string `json:"message"`
	// CreatedBy is the signed-in person who submitted the run; the API
	// sets it from the session, never from the body.
	CreatedBy string `json:"-"`
	// RebuildOf is the run this one rebuilds; set by Rebuild only.
	RebuildOf string `json:"-"`
}

// PipelineError is one positioned problem in a submitted pipeline.
type PipelineError struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column"`
	Message string `json:"message"`
}

// jobSpec is what a job runs, stored with it and sent in Assign frames.
type jobSpec struct {
	Commands       []string          `json:"commands,omitempty"`
	Env            []wire.EnvVar     `json:"env,omitempty"`
	Secrets        []wire.SecretRef  `json:"secrets,omitempty"`
	TimeoutMinutes int               `json:"timeout_min,omitempty"`
	Plugin         *wire.Plugin      `json:"plugin,omitempty"`
	Container      *wire.Container   `json:"container,omitempty"`
	Retry          []retryRule       `json:"retry,omitempty"`
	SoftFail       softFail          `json:"soft_fail"`
	DependsOn      []dependency      `json:"depends_on,omitempty"`
	Agents         map[string]string `json:"agents,omitempty"`
}

type retryRule struct {
	ExitStatuses []int `json:"exit_statuses,omitempty"`
	Limit        int   `json:"limit"`
}

type softFail struct {
	All          bool  `json:"all,omitempty"`
	ExitStatuses []int `json:"exit_statuses,omitempty"`
}

func (sf softFail) matches(code int) bool {
	return pipeline.SoftFail{All: sf.All, ExitStatuses: sf.ExitStatuses}.Matches(code)
}

type dependency struct {
	Key          string `json:"key"`
	AllowFailure bool   `json:"allow_failure,omitempty"`
}

// Submit validates a pipeline and stores it as a new run whose first jobs are
// dispatched at once. Pipeline errors come back as an *HTTPError 400 whose
// Details are the positioned problems.
func (s *Scheduler) Submit(req SubmitRequest) (RunView, error) {
	if req.Filename == "" {
		req.Filename = "pipeline.yml"
	}
	p, err := pipeline.Parse(req.Filename, []byte(req.Pipeline))
	if err != nil {
		var perrs *pipeline.Errors
		if errors.As(err, &perrs) {
			details := make([]PipelineError, len(perrs.List))
			for i, e := range perrs.List {
				details[i] = PipelineError{File: e.File, Line: e.Line, Column: e.Column, Message: e.Message}
			}
			return RunView{}, &HTTPError{Status: 400, Message: "invalid pipeline:\n" + perrs.Error(), Details: details}
		}
		return RunView{}, &HTTPError{Status: 400, Message: err.Error()}
	}
	var id string
	err = s.run(func(ev *event) error {
		id = newID("r_")
		now := s.nowMS()
		number := asInt(s.exec(`SELECT COALESCE(MAX(number), 0) + 1 FROM runs`)[0][0])
		s.exec(`INSERT INTO runs (id, number, state, filename, source, repository, commit_sha, branch, message, created_ms, created_by, rebuild_of)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			id, number, RunRunning, req.Filename, req.Pipeline, req.Repository, req.Commit, req.Branch, req.Message, now, req.CreatedBy, req.RebuildOf)
		for i, st := range p.Steps {
			spec := specOf(p, st)
			specJSON, _ := json.Marshal(spec)
			tags, _ := json.Marshal(agentTags(st.Agents))
			state := StateWaiting
			if len(st.DependsOn) == 0 {
				state = StateQueued
			}
			label := st.Label
			if label == "" {
				label = st.Key
			}
			s.exec(`INSERT INTO jobs (id, run_id, idx, key, label, spec, tags, state, attempt, queued_ms)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1, ?)`,
				newID("j_"), id, int64(i), st.Key, label, specJSON, string(tags), state, now)
			for _, d := range st.DependsOn {
				s.exec(`INSERT OR REPLACE INTO deps (run_id, key, dep, allow_failure) VALUES (?, ?, ?, ?)`, id, st.Key, d.Key, boolInt(d.AllowFailure))
			}
		}
		ev.dispatch()
		return nil
	})
	if err != nil {
		return RunView{}, err
	}
	v, _, err := s.Run(id)
	return v, err
}

func specOf(p *pipeline.Pipeline, st *pipeline.Step) jobSpec {
	spec := jobSpec{
		Commands:       st.Commands,
		TimeoutMinutes: st.TimeoutInMinutes,
		SoftFail:       softFail{All: st.SoftFail.All, ExitStatuses: st.SoftFail.ExitStatuses},
		Agents:         st.Agents,
	}
	for _, e := range p.Env {
		spec.Env = append(spec.Env, wire.EnvVar{Name: e.Name, Value: e.Value})
	}
	for _, e := range st.Env {
		spec.Env = append(spec.Env, wire.EnvVar{Name: e.Name, Value: e.Value})
	}
	// References only: the agent resolves them (see internal/secretref).
	for _, s := range p.SecretsFor(st) {
		spec.Secrets = append(spec.Secrets, wire.SecretRef{Env: s.Env, Ref: s.Ref})
	}
	for _, r := range st.Retry {
		spec.Retry = append(spec.Retry, retryRule{ExitStatuses: r.ExitStatuses, Limit: r.Limit})
	}
	for _, d := range st.DependsOn {
		spec.DependsOn = append(spec.DependsOn, dependency{Key: d.Key, AllowFailure: d.AllowFailure})
	}
	if st.Wasm != nil {
		spec.Plugin = &wire.Plugin{Module: st.Wasm.Module, SHA256: st.Wasm.SHA256, Function: st.Wasm.Function, Config: st.Wasm.Config,
			Workspace: st.Wasm.Workspace, AllowHosts: st.Wasm.AllowHosts, TimeoutMillis: st.Wasm.Timeout.Milliseconds(), MemoryBytes: st.Wasm.MemoryBytes}
	}
	if c := st.Container; c != nil {
		spec.Container = &wire.Container{Image: c.Image, Entrypoint: c.Entrypoint, Command: c.Command, Workdir: c.Workdir, Environment: c.Environment}
	}
	return spec
}

// agentTags are the tags a job needs; a job without a queue runs on "default".
func agentTags(agents map[string]string) map[string]string {
	tags := map[string]string{"queue": "default"}
	for k, v := range agents {
		tags[k] = v
	}
	return tags
}

// jobRow is a job as stored.
type jobRow struct {
	ID, RunID, Key, Label, State string
	Idx                          int64
	Spec                         jobSpec
	Tags                         map[string]string
	Attempt, Lost                int64
	AgentID, AgentName           string
	LeaseMS, QueuedMS            int64
	StartedMS, FinishedMS        int64
	ExitStatus                   *int64
	Reason                       string
	SoftFailed, CancelRequested  bool
	LogSeq                       int64
	// RetryFrom is the attempt automatic retries count from: 1, or the
	// attempt a person last started.
	RetryFrom int64
}

const jobColumns = `id, run_id, key, label, state, idx, spec, tags, attempt, lost, agent_id, agent_name,
	lease_ms, queued_ms, started_ms, finished_ms, exit_status, reason, soft_failed, cancel_requested, log_seq, retry_from`

func scanJob(r []any) *jobRow {
	j := &jobRow{
		ID: asString(r[0]), RunID: asString(r[1]), Key: asString(r[2]), Label: asString(r[3]),
		State: asString(r[4]), Idx: asInt(r[5]), Attempt: asInt(r[8]), Lost: asInt(r[9]),
		AgentID: asString(r[10]), AgentName: asString(r[11]), LeaseMS: asInt(r[12]), QueuedMS: asInt(r[13]),
		StartedMS: asInt(r[14]), FinishedMS: asInt(r[15]), Reason: asString(r[17]),
		SoftFailed: asInt(r[18]) != 0, CancelRequested: asInt(r[19]) != 0, LogSeq: asInt(r[20]), RetryFrom: asInt(r[21]),
	}
	_ = json.Unmarshal(asBytes(r[6]), &j.Spec)
	_ = json.Unmarshal(asBytes(r[7]), &j.Tags)
	if r[16] != nil {
		x := asInt(r[16])
		j.ExitStatus = &x
	}
	return j
}

func (s *Scheduler) jobs(where string, args ...any) []*jobRow {
	rows := s.exec(`SELECT `+jobColumns+` FROM jobs WHERE `+where, args...)
	out := make([]*jobRow, 0, len(rows))
	for _, r := range rows {
		out = append(out, scanJob(r))
	}
	return out
}

func (s *Scheduler) job(id string) *jobRow {
	js := s.jobs(`id = ?`, id)
	if len(js) == 0 {
		return nil
	}
	return js[0]
}

// finish records the end of a job's attempt and moves the run on: a retry,
// dependents released or skipped, the run's state, and dispatch.
func (ev *event) finish(j *jobRow, exit int, reason string, startedMS, finishedMS int64) {
	s := ev.s
	if finishedMS == 0 {
		finishedMS = s.nowMS()
	}
	if startedMS == 0 {
		startedMS = j.StartedMS
	}
	switch {
	case j.CancelRequested:
		if reason == "" {
			reason = "cancelled"
		}
		s.exec(`UPDATE jobs SET state = ?, exit_status = ?, reason = ?, started_ms = ?, finished_ms = ?, lease_ms = 0 WHERE id = ?`,
			StateCancelled, int64(exit), reason, startedMS, finishedMS, j.ID)
	case exit == 0 && reason == "":
		s.exec(`UPDATE jobs SET state = ?, exit_status = 0, reason = '', started_ms = ?, finished_ms = ?, lease_ms = 0 WHERE id = ?`,
			StatePassed, startedMS, finishedMS, j.ID)
	case j.retryAllowed(exit):
		s.cfg.Log("job %s (%s) attempt %d failed with %d %s: retrying", j.ID, j.Key, j.Attempt, exit, reason)
		ev.newAttempt(j, reason, int64(exit))
		ev.dispatch()
		return
	default:
		soft := j.Spec.SoftFail.matches(exit)
		s.exec(`UPDATE jobs SET state = ?, exit_status = ?, reason = ?, started_ms = ?, finished_ms = ?, lease_ms = 0, soft_failed = ? WHERE id = ?`,
			StateFailed, int64(exit), reason, startedMS, finishedMS, boolInt(soft), j.ID)
	}
	ev.release(j.RunID, j.Key)
	ev.dispatch()
	ev.rearm = true
}

// newAttempt queues the next attempt of j on no agent, with a fresh log
// (logs are kept per attempt). reason and exit (nil for none) say why the
// previous attempt ended. Every new attempt, automatic or a person's, starts
// here; the caller dispatches.
func (ev *event) newAttempt(j *jobRow, reason string, exit any) {
	ev.s.exec(`UPDATE jobs SET state = ?, attempt = attempt + 1, agent_id = '', agent_name = '', lease_ms = 0, queued_ms = ?,
		started_ms = 0, finished_ms = 0, exit_status = ?, reason = ?, soft_failed = 0, cancel_requested = 0, log_seq = 0 WHERE id = ?`,
		StateQueued, ev.s.nowMS(), exit, reason, j.ID)
}

// retryAllowed reports whether a failed attempt with this exit status is
// retried automatically, counting attempts made since RetryFrom.
func (j *jobRow) retryAllowed(exit int) bool {
	if exit == 0 {
		return false
	}
	for _, r := range j.Spec.Retry {
		match := len(r.ExitStatuses) == 0
		for _, c := range r.ExitStatuses {
			match = match || c == exit
		}
		if match {
			return j.Attempt-max(j.RetryFrom, 1)+1 <= int64(r.Limit)
		}
	}
	return false
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// release moves on the dependents of jobs that just ended: a waiting job
// whose dependencies have all ended is queued if each passed (or may fail),
// and skipped otherwise, which in turn releases its own dependents. Only the
// ended jobs' dependents are read, so an event costs the same in a run of
// five jobs and in a run of five thousand. Then the run's state is settled.
func (ev *event) release(runID string, ended ...string) {
	s := ev.s
	for len(ended) > 0 {
		key := ended[0]
		ended = ended[1:]
		for _, r := range s.exec(`SELECT j.id, j.key FROM deps d JOIN jobs j ON j.run_id = d.run_id AND j.key = d.key
			WHERE d.run_id = ? AND d.dep = ? AND j.state = ?`, runID, key, StateWaiting) {
			id, dependent := asString(r[0]), asString(r[1])
			ready, skip := true, false
			for _, d := range s.exec(`SELECT d.allow_failure, dj.state, dj.soft_failed FROM deps d
				JOIN jobs dj ON dj.run_id = d.run_id AND dj.key = d.dep WHERE d.run_id = ? AND d.key = ?`, runID, dependent) {
				state := asString(d[1])
				if !terminal(state) {
					ready = false
					break
				}
				ok := state == StatePassed || (state == StateFailed && asInt(d[2]) != 0) || asInt(d[0]) != 0
				skip = skip || !ok
			}
			switch {
			case !ready:
			case skip:
				s.exec(`UPDATE jobs SET state = ?, reason = 'a dependency failed', finished_ms = ? WHERE id = ?`, StateSkipped, s.nowMS(), id)
				ended = append(ended, dependent)
			default:
				s.exec(`UPDATE jobs SET state = ?, queued_ms = ? WHERE id = ?`, StateQueued, s.nowMS(), id)
			}
		}
	}
	ev.settle(runID)
}

// settle sets the run's final state once every job has ended.
func (ev *event) settle(runID string) {
	s := ev.s
	if asInt(s.exec(`SELECT COUNT(*) FROM jobs WHERE run_id = ? AND state NOT IN (?, ?, ?, ?)`,
		runID, StatePassed, StateFailed, StateCancelled, StateSkipped)[0][0]) > 0 {
		return
	}
	state := RunPassed
	for _, r := range s.exec(`SELECT state, soft_failed FROM jobs WHERE run_id = ? AND state IN (?, ?)`, runID, StateFailed, StateCancelled) {
		switch {
		case asString(r[0]) == StateCancelled && state == RunPassed:
			state = RunCancelled
		case asString(r[0]) == StateFailed && asInt(r[1]) == 0:
			state = RunFailed
		}
	}
	cancelled := asInt(s.exec(`SELECT cancel_requested FROM runs WHERE id = ?`, runID)[0][0]) != 0
	if cancelled && state != RunFailed {
		state = RunCancelled
	}
	s.exec(`UPDATE runs SET state = ?, finished_ms = ? WHERE id = ? AND state = ?`, state, s.nowMS(), runID, RunRunning)
}

// Why a job that had not started was cancelled: with its run, or on its
// own. A retry brings back the former (see reopen), never the latter.
const (
	reasonRunCancelled = "the run was cancelled"
	reasonJobCancelled = "cancelled"
)

// Cancel cancels a run (key empty) or one job of it. Jobs not started end at
// once; running jobs are told to stop and end when their agent reports back
// (or their lease runs out).
func (s *Scheduler) Cancel(runID, key string) error {
	return s.run(func(ev *event) error {
		if len(s.exec(`SELECT 1 FROM runs WHERE id = ?`, runID)) == 0 {
			return &HTTPError{Status: 404, Message: fmt.Sprintf("run %q not found", runID)}
		}
		var js []*jobRow
		if key == "" {
			s.exec(`UPDATE runs SET cancel_requested = 1 WHERE id = ?`, runID)
			js = s.jobs(`run_id = ? ORDER BY idx`, runID)
		} else {
			js = s.jobs(`run_id = ? AND key = ?`, runID, key)
			if len(js) == 0 {
				return &HTTPError{Status: 404, Message: fmt.Sprintf("job %q not found in run %q", key, runID)}
			}
		}
		now := s.nowMS()
		reason := reasonJobCancelled
		if key == "" {
			reason = reasonRunCancelled
		}
		var ended []string
		for _, j := range js {
			switch j.State {
			case StateWaiting, StateQueued:
				s.exec(`UPDATE jobs SET state = ?, reason = ?, finished_ms = ?, cancel_requested = 1 WHERE id = ?`, StateCancelled, reason, now, j.ID)
				ended = append(ended, j.Key)
			case StateAssigned, StateRunning:
				s.exec(`UPDATE jobs SET cancel_requested = 1 WHERE id = ?`, j.ID)
				if conn := s.connOf(j.AgentID); conn != "" {
					ev.sendFrame(conn, wire.Frame{Type: wire.TCancel, Cancel: &wire.JobRef{ID: j.ID, Attempt: int(j.Attempt)}})
				}
			}
		}
		ev.release(runID, ended...)
		return nil
	})
}

// Alarm handles expired leases: the jobs of an agent that stopped
// heartbeating are queued again (or fail after maxLostAttempts), and its
// connection, if still open, is closed.
func (s *Scheduler) Alarm() error {
	s.alarmAt = time.Time{} // the alarm that was set has fired
	return s.run(func(ev *event) error {
		now := s.nowMS()
		for _, j := range s.jobs(`state IN ('assigned','running') AND lease_ms <= ?`, now) {
			ev.lose(j, "agent lost: no heartbeat for "+wire.LeaseTimeout.String())
		}
		for _, r := range s.exec(`SELECT conn FROM agents WHERE connected = 1 AND last_seen_ms <= ?`, now-wire.LeaseTimeout.Milliseconds()) {
			ev.close(asString(r[0]), 4008, "heartbeat timeout")
		}
		ev.expireConns()
		ev.rearm = true
		return nil
	})
}

// lose handles a job whose agent is gone.
func (ev *event) lose(j *jobRow, reason string) {
	s := ev.s
	s.cfg.Log("job %s (%s) attempt %d: %s", j.ID, j.Key, j.Attempt, reason)
	if j.CancelRequested || j.Lost+1 >= maxLostAttempts && !j.retryAllowed(-1) {
		ev.finish(j, -1, reason, 0, 0)
		return
	}
	if j.retryAllowed(-1) {
		ev.finish(j, -1, reason, 0, 0)
		return
	}
	ev.newAttempt(j, reason, nil)
	s.exec(`UPDATE jobs SET lost = lost + 1 WHERE id = ?`, j.ID)
	ev.dispatch()
	ev.rearm = true
}

func msTime(ms int64) time.Time { return time.UnixMilli(ms) }

// sortedKeys returns m's keys in order, for deterministic output.
func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
