package scheduler

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/airlockci/airlock/edge/internal/edgehttp"
	"github.com/airlockci/airlock/internal/identity"
)

// MaxBodyBytes is the largest request body the API accepts (a 1 MiB
// pipeline, JSON-escaped, with room to spare); larger bodies
// are answered 413 without being read further.
const MaxBodyBytes = 4 << 20

// Request is an HTTP request as the Durable Object hands it over. Body holds
// at most MaxBodyBytes+1 bytes: one more than allowed tells that it was cut.
type Request = edgehttp.Request

// Response is the answer. When Upgrade is set the caller accepts the request's
// WebSocket under that connection ID instead of sending Body. When Verify is
// set the caller verifies that proof and answers with Admit's response.
type Response struct {
	Status  int
	Header  map[string]string
	Body    []byte
	Upgrade string
	Verify  *Verification
}

// RunView is a run as the API shows it.
type RunView struct {
	ID         string `json:"id"`
	Number     int64  `json:"number"`
	State      string `json:"state"`
	Filename   string `json:"filename"`
	Repository string `json:"repository,omitempty"`
	Commit     string `json:"commit,omitempty"`
	Branch     string `json:"branch,omitempty"`
	Message    string `json:"message,omitempty"`
	CreatedMS  int64  `json:"created_ms"`
	FinishedMS int64  `json:"finished_ms,omitempty"`
	CreatedBy  string `json:"created_by,omitempty"`
	// RebuildOf is the run this one was rebuilt from.
	RebuildOf string    `json:"rebuild_of,omitempty"`
	Jobs      []JobView `json:"jobs"`
}

// JobView is a job as the API shows it.
type JobView struct {
	Key        string   `json:"key"`
	Label      string   `json:"label"`
	State      string   `json:"state"`
	DependsOn  []string `json:"depends_on,omitempty"`
	Attempt    int64    `json:"attempt"`
	Agent      string   `json:"agent,omitempty"`
	ExitStatus *int64   `json:"exit_status,omitempty"`
	Reason     string   `json:"reason,omitempty"`
	SoftFailed bool     `json:"soft_failed,omitempty"`
	QueuedMS   int64    `json:"queued_ms,omitempty"`
	StartedMS  int64    `json:"started_ms,omitempty"`
	FinishedMS int64    `json:"finished_ms,omitempty"`
	LogSeq     int64    `json:"log_seq"`
	// RetriedBy is who last started the job again by hand.
	RetriedBy string `json:"retried_by,omitempty"`
}

// AgentView is an agent as the API shows it.
type AgentView struct {
	ID          string            `json:"id"`
	Name        string            `json:"name"`
	Identity    string            `json:"identity"`
	Pool        string            `json:"pool"`
	Tags        map[string]string `json:"tags"`
	Slots       int64             `json:"slots"`
	Busy        int64             `json:"busy"`
	Version     string            `json:"version,omitempty"`
	Connected   bool              `json:"connected"`
	ConnectedMS int64             `json:"connected_ms"`
	LastSeenMS  int64             `json:"last_seen_ms"`
	// DisconnectedMS is when its connection ended; zero while connected.
	DisconnectedMS int64 `json:"disconnected_ms,omitempty"`
	// Jobs are the jobs assigned to it or running on it now.
	Jobs []AgentJob `json:"jobs"`
}

// AgentJob is a job an agent holds, as the agents view shows it.
type AgentJob struct {
	RunID     string `json:"run_id"`
	RunNumber int64  `json:"run_number"`
	Key       string `json:"key"`
	Label     string `json:"label"`
	// StartedMS is zero while the job is assigned but not yet accepted.
	StartedMS int64 `json:"started_ms"`
}

// AgentsListedFor is how long a disconnected agent stays in the agents
// list; its row stays in the database (a reconnecting agent keeps its ID).
const AgentsListedFor = 24 * time.Hour

// Run returns a run with its jobs, and the ID of the job log table rows.
func (s *Scheduler) Run(id string) (RunView, bool, error) {
	var v RunView
	found := false
	err := s.view(func() error {
		rows := s.exec(`SELECT id, number, state, filename, repository, commit_sha, branch, message, created_ms, finished_ms, created_by, rebuild_of FROM runs WHERE id = ?`, id)
		if len(rows) == 0 {
			return nil
		}
		r := rows[0]
		found = true
		v = RunView{ID: asString(r[0]), Number: asInt(r[1]), State: asString(r[2]), Filename: asString(r[3]),
			Repository: asString(r[4]), Commit: asString(r[5]), Branch: asString(r[6]), Message: asString(r[7]),
			CreatedMS: asInt(r[8]), FinishedMS: asInt(r[9]), CreatedBy: asString(r[10]), RebuildOf: asString(r[11]), Jobs: []JobView{}}
		// Only what the view shows: no spec to decode, dependencies from
		// their own table.
		deps := map[string][]string{}
		for _, d := range s.exec(`SELECT key, dep FROM deps WHERE run_id = ? ORDER BY rowid`, id) {
			deps[asString(d[0])] = append(deps[asString(d[0])], asString(d[1]))
		}
		for _, r := range s.exec(`SELECT key, label, state, attempt, agent_name, exit_status, reason, soft_failed,
			queued_ms, started_ms, finished_ms, log_seq, retried_by FROM jobs WHERE run_id = ? ORDER BY idx`, id) {
			jv := JobView{Key: asString(r[0]), Label: asString(r[1]), State: asString(r[2]), Attempt: asInt(r[3]),
				Agent: asString(r[4]), Reason: asString(r[6]), SoftFailed: asInt(r[7]) != 0, QueuedMS: asInt(r[8]),
				StartedMS: asInt(r[9]), FinishedMS: asInt(r[10]), LogSeq: asInt(r[11]), RetriedBy: asString(r[12])}
			if r[5] != nil {
				x := asInt(r[5])
				jv.ExitStatus = &x
			}
			jv.DependsOn = deps[jv.Key]
			v.Jobs = append(v.Jobs, jv)
		}
		return nil
	})
	if err == nil && !found {
		err = &HTTPError{Status: 404, Message: fmt.Sprintf("run %q not found", id)}
	}
	return v, found, err
}

// Agents lists the connected agents by name, then those that disconnected
// within AgentsListedFor, most recent first, each with the jobs it holds
// (a disconnected agent keeps its jobs until their leases run out).
func (s *Scheduler) Agents() ([]AgentView, error) {
	out := []AgentView{}
	err := s.view(func() error {
		held := map[string][]AgentJob{}
		for _, r := range s.exec(`SELECT j.agent_id, j.run_id, r.number, j.key, j.label, j.started_ms FROM jobs j
			JOIN runs r ON r.id = j.run_id WHERE j.state IN ('assigned','running') ORDER BY r.number, j.idx`) {
			id := asString(r[0])
			held[id] = append(held[id], AgentJob{RunID: asString(r[1]), RunNumber: asInt(r[2]), Key: asString(r[3]), Label: asString(r[4]), StartedMS: asInt(r[5])})
		}
		since := s.nowMS() - AgentsListedFor.Milliseconds()
		for _, r := range s.exec(`SELECT id, name, identity, tags, slots, version, connected, connected_ms, last_seen_ms, pool, disconnected_ms
			FROM agents WHERE connected = 1 OR disconnected_ms > ?
			ORDER BY connected DESC, CASE WHEN connected = 1 THEN 0 ELSE disconnected_ms END DESC, name`, since) {
			av := AgentView{ID: asString(r[0]), Name: asString(r[1]), Identity: asString(r[2]), Slots: asInt(r[4]),
				Version: asString(r[5]), Connected: asInt(r[6]) != 0, ConnectedMS: asInt(r[7]), LastSeenMS: asInt(r[8]), Pool: asString(r[9]),
				Jobs: held[asString(r[0])]}
			if !av.Connected {
				av.DisconnectedMS = asInt(r[10])
			}
			if av.Jobs == nil {
				av.Jobs = []AgentJob{}
			}
			av.Busy = int64(len(av.Jobs))
			_ = json.Unmarshal(asBytes(r[3]), &av.Tags)
			out = append(out, av)
		}
		return nil
	})
	return out, err
}

// MaxLogPage bounds the log bytes one answer carries; a client reads on
// with after = the last sequence number it got.
const MaxLogPage = 1 << 20

// Log returns up to MaxLogPage bytes of an attempt's log after chunk
// after, the last chunk's sequence number, and whether that is the end of an
// attempt that has ended. Attempt 0 means the current attempt.
func (s *Scheduler) Log(runID, key string, attempt, after int64) (data []byte, last int64, done bool, err error) {
	var more bool
	err = s.view(func() error {
		js := s.jobs(`run_id = ? AND key = ?`, runID, key)
		if len(js) == 0 {
			if len(s.exec(`SELECT 1 FROM runs WHERE id = ?`, runID)) == 0 {
				return &HTTPError{Status: 404, Message: fmt.Sprintf("run %q not found", runID)}
			}
			return &HTTPError{Status: 404, Message: fmt.Sprintf("job %q not found in run %q", key, runID)}
		}
		j := js[0]
		if attempt == 0 {
			attempt = j.Attempt
		}
		if attempt < 1 || attempt > j.Attempt {
			return &HTTPError{Status: 404, Message: fmt.Sprintf("job %q has no attempt %d", key, attempt)}
		}
		var buf bytes.Buffer
		last = after
		// One page at a time, read in small batches: a Durable Object has
		// 128 MB, a log may not.
		const batch = 32
	pages:
		for {
			rows := s.exec(`SELECT seq, data FROM logs WHERE job_id = ? AND attempt = ? AND seq > ? ORDER BY seq LIMIT ?`, j.ID, attempt, last, int64(batch))
			for _, r := range rows {
				if buf.Len() > 0 && buf.Len()+len(asBytes(r[1])) > MaxLogPage {
					more = true
					break pages
				}
				buf.Write(asBytes(r[1]))
				last = asInt(r[0])
			}
			if len(rows) < batch {
				break
			}
		}
		data = buf.Bytes()
		done = !more && (attempt < j.Attempt || terminal(j.State))
		return nil
	})
	return data, last, done, err
}

// Serve answers one API request.
func (s *Scheduler) Serve(req Request) Response {
	resp, err := s.serve(req)
	if err == nil {
		return resp
	}
	return s.errorResponse(err)
}

// errorResponse maps an error to its answer; internal errors carry an ID
// that is also in the log.
func (s *Scheduler) errorResponse(err error) Response {
	var he *HTTPError
	var ie errInternal
	switch {
	case errors.As(err, &he):
		body := map[string]any{"error": he.Message}
		if he.Details != nil {
			body["details"] = he.Details
		}
		r := jsonResponse(he.Status, body)
		if he.Allow != "" {
			r.Header["allow"] = he.Allow
		}
		return r
	case errors.As(err, &ie):
		return jsonResponse(500, map[string]any{"error": "internal error", "id": ie.id})
	default:
		id := newID("err_")
		s.cfg.Log("%s: %v", id, err)
		return jsonResponse(500, map[string]any{"error": "internal error", "id": id})
	}
}

func (s *Scheduler) serve(req Request) (Response, error) {
	u, err := url.Parse(req.URL)
	if err != nil {
		return Response{}, &HTTPError{Status: 400, Message: "malformed URL"}
	}
	parts, err := edgehttp.Segments(u)
	if err != nil {
		return Response{}, &HTTPError{Status: 400, Message: "malformed URL path"}
	}
	q := u.Query()
	var who Principal
	if !agentRoutes[strings.Join(parts, "/")] {
		if who, err = principalOf(req); err != nil {
			return Response{}, err
		}
	}
	// A path match with another method is remembered so an unmatched
	// request gets 405 rather than 404.
	router := &edgehttp.Router{Method: req.Method, Segments: parts}
	resp, err := s.dispatchRoute(req, who, router.Route, parts, q)
	var he *HTTPError
	if errors.As(err, &he) && he.Status == 404 && he.Message == errNoEndpoint {
		if msg, allow, ok := router.NotAllowed(u.Path); ok {
			return Response{}, &HTTPError{Status: 405, Message: msg, Allow: allow}
		}
	}
	return resp, err
}

const errNoEndpoint = "no such endpoint"

func (s *Scheduler) dispatchRoute(req Request, who Principal, route func(string, ...string) bool, parts []string, q url.Values) (Response, error) {
	switch {
	case route("GET", "v1", "healthz"):
		return jsonResponse(200, map[string]any{"ok": true}), nil

	case route("POST", "v1", "runs"):
		if len(req.Body) > MaxBodyBytes {
			return Response{}, &HTTPError{Status: 413, Message: fmt.Sprintf("request body over the limit of %d bytes", MaxBodyBytes)}
		}
		if len(bytes.TrimSpace(req.Body)) == 0 {
			return Response{}, &HTTPError{Status: 400, Message: `empty request body: want a JSON object {"pipeline": "<yaml>", ...}`}
		}
		var sr SubmitRequest
		dec := json.NewDecoder(bytes.NewReader(req.Body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&sr); err != nil {
			return Response{}, &HTTPError{Status: 400, Message: "request body: " + err.Error() + `: want a JSON object {"pipeline": "<yaml>", "filename", "repository", "commit", "branch", "message"}`}
		}
		if dec.More() {
			return Response{}, &HTTPError{Status: 400, Message: "request body: trailing data after the JSON object"}
		}
		sr.CreatedBy = who.actor()
		v, err := s.Submit(sr)
		if err != nil {
			return Response{}, err
		}
		r := jsonResponse(201, v)
		r.Header["location"] = "/v1/runs/" + v.ID
		return r, nil

	case route("GET", "v1", "runs"):
		return s.listRuns(q)

	case route("GET", "v1", "runs", "*"):
		v, _, err := s.Run(parts[2])
		if err != nil {
			return Response{}, err
		}
		return jsonResponse(200, v), nil

	case route("POST", "v1", "runs", "*", "cancel"):
		if err := s.Cancel(parts[2], ""); err != nil {
			return Response{}, err
		}
		v, _, err := s.Run(parts[2])
		return jsonResponse(202, v), err

	case route("POST", "v1", "runs", "*", "rebuild"):
		v, err := s.Rebuild(parts[2], who.actor())
		if err != nil {
			return Response{}, err
		}
		r := jsonResponse(201, v)
		r.Header["location"] = "/v1/runs/" + v.ID
		return r, nil

	case route("POST", "v1", "runs", "*", "jobs", "*", "retry"):
		if err := s.Retry(parts[2], parts[4], who.actor()); err != nil {
			return Response{}, err
		}
		v, _, err := s.Run(parts[2])
		return jsonResponse(202, v), err

	case route("POST", "v1", "runs", "*", "jobs", "*", "cancel"):
		if err := s.Cancel(parts[2], parts[4]); err != nil {
			return Response{}, err
		}
		v, _, err := s.Run(parts[2])
		return jsonResponse(202, v), err

	case route("GET", "v1", "runs", "*", "jobs", "*", "log"):
		attempt, err1 := intParam(q, "attempt")
		after, err2 := intParam(q, "after")
		if err := errors.Join(err1, err2); err != nil {
			return Response{}, err
		}
		data, last, done, err := s.Log(parts[2], parts[4], attempt, after)
		if err != nil {
			return Response{}, err
		}
		return Response{Status: 200, Body: data, Header: map[string]string{
			"content-type":    "text/plain; charset=utf-8",
			"airlock-log-seq": strconv.FormatInt(last, 10),
			"airlock-log-end": strconv.FormatBool(done),
			"cache-control":   "no-store",
		}}, nil

	case route("GET", "v1", "agents"):
		as, err := s.Agents()
		if err != nil {
			return Response{}, err
		}
		return jsonResponse(200, map[string]any{"agents": as}), nil

	case route("POST", "v1", "agents", "challenge"):
		var ch string
		var exp int64
		err := s.run(func(ev *event) error {
			var err error
			ch, exp, err = ev.issueChallenge("")
			return err
		})
		if err != nil {
			return Response{}, err
		}
		return jsonResponse(201, map[string]any{"challenge": ch, "expires_ms": exp}), nil

	case route("GET", "v1", "agents", "connect"):
		if !strings.EqualFold(req.Header["upgrade"], "websocket") {
			return Response{}, &HTTPError{Status: 426, Message: "this endpoint takes a WebSocket upgrade"}
		}
		v, err := s.beginConnect(req.Header[strings.ToLower(identity.ProofHeader)])
		if err != nil {
			return Response{}, err
		}
		return Response{Verify: v}, nil
	}
	return Response{}, &HTTPError{Status: 404, Message: errNoEndpoint}
}

func (s *Scheduler) listRuns(q url.Values) (Response, error) {
	limit, err := intParam(q, "limit")
	if err != nil {
		return Response{}, err
	}
	if limit <= 0 || limit > 100 {
		limit = 20
	}
	type runSummary struct {
		ID         string `json:"id"`
		Number     int64  `json:"number"`
		State      string `json:"state"`
		Filename   string `json:"filename"`
		Repository string `json:"repository,omitempty"`
		Commit     string `json:"commit,omitempty"`
		Branch     string `json:"branch,omitempty"`
		Message    string `json:"message,omitempty"`
		CreatedBy  string `json:"created_by,omitempty"`
		CreatedMS  int64  `json:"created_ms"`
		FinishedMS int64  `json:"finished_ms,omitempty"`
		RebuildOf  string `json:"rebuild_of,omitempty"`
	}
	out := []runSummary{}
	err = s.view(func() error {
		for _, r := range s.exec(`SELECT id, number, state, filename, repository, commit_sha, branch, message, created_by, created_ms, finished_ms, rebuild_of FROM runs ORDER BY number DESC LIMIT ?`, limit) {
			out = append(out, runSummary{asString(r[0]), asInt(r[1]), asString(r[2]), asString(r[3]), asString(r[4]), asString(r[5]),
				asString(r[6]), asString(r[7]), asString(r[8]), asInt(r[9]), asInt(r[10]), asString(r[11])})
		}
		return nil
	})
	return jsonResponse(200, map[string]any{"runs": out}), err
}

func intParam(q url.Values, name string) (int64, error) {
	v := q.Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, &HTTPError{Status: 400, Message: fmt.Sprintf("query parameter %s=%q: want a non-negative integer", name, v)}
	}
	return n, nil
}

func jsonResponse(status int, v any) Response {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = 500, []byte(`{"error":"internal error: encoding the response"}`)
	}
	return Response{Status: status, Body: append(b, '\n'), Header: map[string]string{
		"content-type":  "application/json",
		"cache-control": "no-store",
	}}
}
