package scheduler

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/airlockci/airlock/internal/wire"
)

// call sends an API request as alice (or as who, when given) and decodes a
// JSON answer into out when out is not nil.
func (w *world) call(method, path string, out any, who ...Principal) Response {
	w.t.Helper()
	req := Request{Method: method, URL: "http://x" + path}
	if len(who) > 0 {
		req.Header = map[string]string{PrincipalHeader: EncodePrincipal(who[0])}
	}
	resp := w.s.Serve(asPerson(req))
	if out != nil && resp.Status < 300 {
		if err := json.Unmarshal(resp.Body, out); err != nil {
			w.t.Fatalf("%s %s: %v in %s", method, path, err, resp.Body)
		}
	}
	return resp
}

// drain finishes every job assigned to conn, and those that become
// runnable in turn, with the exit status exits gives its key (0 if none).
func (w *world) drain(conn string, exits map[string]int) {
	w.t.Helper()
	for {
		jobs := w.assigned(conn)
		if len(jobs) == 0 {
			return
		}
		for _, j := range jobs {
			w.finish(conn, j, exits[j.Key], fmt.Sprintf("%s attempt %d\n", j.Key, j.Attempt))
		}
	}
}

func TestRetryRerunsJobAndDependents(t *testing.T) {
	w := newWorld(t)
	v := w.submit(diamond)
	conn := w.agent("a1", 2, nil)
	w.drain(conn, map[string]int{"build": 3})
	if got := w.run(v.ID); got.State != RunFailed || states(got)["package"] != StateSkipped {
		t.Fatalf("before retry: got %s %v, want failed with dependents skipped", got.State, states(got))
	}

	var rv RunView
	if resp := w.call("POST", "/v1/runs/"+v.ID+"/jobs/build/retry", &rv); resp.Status != 202 {
		t.Fatalf("retry: got %d %s, want 202", resp.Status, resp.Body)
	}
	want := map[string]string{"build": StateAssigned, "unit": StateWaiting, "lint": StateWaiting, "package": StateWaiting}
	if got := states(rv); rv.State != RunRunning || !reflect.DeepEqual(got, want) {
		t.Fatalf("after retry: got %s %v, want running %v", rv.State, got, want)
	}
	if b := rv.Jobs[0]; b.Attempt != 2 || b.RetriedBy != "alice@example.com" || b.FinishedMS != 0 || b.ExitStatus != nil {
		t.Errorf("retried job: got %+v, want attempt 2 retried by alice, not finished, no exit status", b)
	}
	if rv.FinishedMS != 0 {
		t.Errorf("run finished_ms: got %d, want 0 while running again", rv.FinishedMS)
	}
	jobs := w.assigned(conn)
	if len(jobs) != 1 || jobs[0].Key != "build" || jobs[0].Attempt != 2 {
		t.Fatalf("dispatch after retry: got %+v, want build attempt 2 at once", jobs)
	}
	w.finish(conn, jobs[0], 0, "build attempt 2\n")
	w.drain(conn, nil)
	if got := w.run(v.ID); got.State != RunPassed {
		t.Fatalf("run: got %s %v, want passed", got.State, states(got))
	}

	// Each attempt keeps its own log.
	for _, tc := range []struct {
		query, want, seq string
	}{
		{"?attempt=1", "build attempt 1\n", "1"},
		{"?attempt=2", "build attempt 2\n", "1"},
		{"", "build attempt 2\n", "1"},
	} {
		resp := w.call("GET", "/v1/runs/"+v.ID+"/jobs/build/log"+tc.query, nil)
		if resp.Status != 200 || string(resp.Body) != tc.want || resp.Header["airlock-log-end"] != "true" {
			t.Errorf("log%s: got %d %q end=%s, want %q ended", tc.query, resp.Status, resp.Body, resp.Header["airlock-log-end"], tc.want)
		}
	}
	if resp := w.call("GET", "/v1/runs/"+v.ID+"/jobs/build/log?attempt=3", nil); resp.Status != 404 {
		t.Errorf("log of attempt 3: got %d, want 404", resp.Status)
	}
}

func TestRetryRefused(t *testing.T) {
	w := newWorld(t)
	v := w.submit(`
steps:
  - {key: ok, command: "true"}
  - {key: bad, command: "false"}
  - {key: after, command: "true", depends_on: bad}
  - {key: slow, command: "sleep 1"}
  - {key: wait, command: "true", depends_on: slow}
  - {key: nowhere, command: "true", agents: {queue: nowhere}}
`)
	conn := w.agent("a1", 3, nil)
	jobs := w.assigned(conn)
	if got := keys(jobs); !reflect.DeepEqual(got, []string{"bad", "ok", "slow"}) {
		t.Fatalf("dispatch: got %v", got)
	}
	for _, j := range jobs {
		switch j.Key {
		case "ok":
			w.finish(conn, j, 0, "")
		case "bad":
			w.finish(conn, j, 1, "")
		case "slow":
			w.send(conn, wire.Frame{Type: wire.TAccept, Accept: &j.JobRef})
		}
	}
	before := w.run(v.ID)
	for _, tc := range []struct {
		method, path string
		wantStatus   int
		wantBody     string
	}{
		{"POST", "/v1/runs/" + v.ID + "/jobs/ok/retry", 409, `job \"ok\" of run \"` + v.ID + `\" is passed: it passed; only a job that ended failed or cancelled`},
		{"POST", "/v1/runs/" + v.ID + "/jobs/slow/retry", 409, "is running: it has not ended"},
		{"POST", "/v1/runs/" + v.ID + "/jobs/wait/retry", 409, "is waiting: it has not ended"},
		{"POST", "/v1/runs/" + v.ID + "/jobs/nowhere/retry", 409, "is queued: it has not ended"},
		{"POST", "/v1/runs/" + v.ID + "/jobs/after/retry", 409, "is skipped: it never ran because a dependency failed; retry that dependency instead"},
		{"POST", "/v1/runs/" + v.ID + "/jobs/nope/retry", 404, `job \"nope\" not found in run`},
		{"POST", "/v1/runs/r_nope/jobs/ok/retry", 404, `run \"r_nope\" not found`},
		{"GET", "/v1/runs/" + v.ID + "/jobs/bad/retry", 405, "want POST"},
	} {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			resp := w.call(tc.method, tc.path, nil)
			if resp.Status != tc.wantStatus || !strings.Contains(string(resp.Body), tc.wantBody) {
				t.Fatalf("got %d %s, want %d containing %s", resp.Status, resp.Body, tc.wantStatus, tc.wantBody)
			}
			if tc.wantStatus == 405 && resp.Header["allow"] != "POST" {
				t.Errorf("Allow: got %q, want POST", resp.Header["allow"])
			}
			if got := w.run(v.ID); !reflect.DeepEqual(got, before) {
				t.Fatalf("a refused retry changed the run: got %v, want %v", states(got), states(before))
			}
		})
	}
}

// Only dependents that ended because of the retried job wait for it again.
func TestRetryReopensOnlyItsOwnDependents(t *testing.T) {
	for _, tc := range []struct {
		name      string
		yaml      string
		cancel    []string       // jobs cancelled one by one before anything runs
		exits     map[string]int // the first time round
		retry     string
		want      map[string]string // right after the retry
		wantRun   string            // when everything that can has run, passing
		wantAfter map[string]string
	}{
		{
			name: "a dependent skipped because of another failed job stays skipped",
			yaml: `
steps:
  - {key: a, command: "false"}
  - {key: b, command: "false"}
  - {key: both, command: "true", depends_on: [a, b]}
  - {key: only_a, command: "true", depends_on: a}
`,
			exits:     map[string]int{"a": 1, "b": 1},
			retry:     "a",
			want:      map[string]string{"a": StateAssigned, "b": StateFailed, "both": StateSkipped, "only_a": StateWaiting},
			wantRun:   RunFailed,
			wantAfter: map[string]string{"a": StatePassed, "b": StateFailed, "both": StateSkipped, "only_a": StatePassed},
		},
		{
			name: "a dependent that also waits on a skipped dependent is reopened with it",
			yaml: `
steps:
  - {key: x, command: "false"}
  - {key: y, command: "true", depends_on: x}
  - {key: z, command: "true", depends_on: [y, x]}
  - {key: zz, command: "true", depends_on: z}
`,
			exits:     map[string]int{"x": 1},
			retry:     "x",
			want:      map[string]string{"x": StateAssigned, "y": StateWaiting, "z": StateWaiting, "zz": StateWaiting},
			wantRun:   RunPassed,
			wantAfter: map[string]string{"x": StatePassed, "y": StatePassed, "z": StatePassed, "zz": StatePassed},
		},
		{
			name:      "a dependent a person cancelled stays cancelled",
			yaml:      diamond,
			cancel:    []string{"package"},
			exits:     map[string]int{"build": 1},
			retry:     "build",
			want:      map[string]string{"build": StateAssigned, "unit": StateWaiting, "lint": StateWaiting, "package": StateCancelled},
			wantRun:   RunCancelled,
			wantAfter: map[string]string{"build": StatePassed, "unit": StatePassed, "lint": StatePassed, "package": StateCancelled},
		},
		{
			name:      "a soft-failed job's dependents already ran",
			yaml:      strings.Replace(diamond, "command: make build", "command: make build\n    soft_fail: true", 1),
			exits:     map[string]int{"build": 1},
			retry:     "build",
			want:      map[string]string{"build": StateAssigned, "unit": StatePassed, "lint": StatePassed, "package": StatePassed},
			wantRun:   RunPassed,
			wantAfter: map[string]string{"build": StatePassed, "unit": StatePassed, "lint": StatePassed, "package": StatePassed},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			v := w.submit(tc.yaml)
			for _, key := range tc.cancel {
				if err := w.s.Cancel(v.ID, key); err != nil {
					t.Fatal(err)
				}
			}
			conn := w.agent("a1", 4, nil)
			w.drain(conn, tc.exits)
			if err := w.s.Retry(v.ID, tc.retry, "bob"); err != nil {
				t.Fatalf("retry: %v", err)
			}
			if got := states(w.run(v.ID)); !reflect.DeepEqual(got, tc.want) {
				t.Fatalf("after retry: got %v, want %v", got, tc.want)
			}
			w.drain(conn, nil)
			got := w.run(v.ID)
			if got.State != tc.wantRun || !reflect.DeepEqual(states(got), tc.wantAfter) {
				t.Fatalf("at the end: got %s %v, want %s %v", got.State, states(got), tc.wantRun, tc.wantAfter)
			}
		})
	}
}

// A run cancelled while its first job ran: retrying that job brings back
// the jobs that were cancelled waiting for it; the run can be cancelled
// again while the retry runs, and retried again.
func TestRetryAfterRunCancel(t *testing.T) {
	w := newWorld(t)
	v := w.submit(diamond)
	conn := w.agent("a1", 2, nil)
	cancelRunning := func() {
		t.Helper()
		jobs := w.assigned(conn)
		if len(jobs) != 1 || jobs[0].Key != "build" {
			t.Fatalf("got %+v, want build assigned", jobs)
		}
		w.send(conn, wire.Frame{Type: wire.TAccept, Accept: &jobs[0].JobRef})
		if resp := w.call("POST", "/v1/runs/"+v.ID+"/cancel", nil); resp.Status != 202 {
			t.Fatalf("cancel: got %d %s", resp.Status, resp.Body)
		}
		var told bool
		for _, f := range w.sock.take(conn) {
			told = told || (f.Type == wire.TCancel && f.Cancel.ID == jobs[0].ID && f.Cancel.Attempt == jobs[0].Attempt)
		}
		if !told {
			t.Fatalf("the agent was not told to cancel attempt %d", jobs[0].Attempt)
		}
		w.send(conn, wire.Frame{Type: wire.TFinished, Finished: &wire.Finished{JobRef: jobs[0].JobRef, ExitStatus: -1, Reason: "cancelled"}})
		got := w.run(v.ID)
		want := map[string]string{"build": StateCancelled, "unit": StateCancelled, "lint": StateCancelled, "package": StateCancelled}
		if got.State != RunCancelled || !reflect.DeepEqual(states(got), want) {
			t.Fatalf("after cancel: got %s %v, want cancelled %v", got.State, states(got), want)
		}
	}
	cancelRunning()
	for attempt := 2; attempt <= 3; attempt++ {
		var rv RunView
		if resp := w.call("POST", "/v1/runs/"+v.ID+"/jobs/build/retry", &rv); resp.Status != 202 {
			t.Fatalf("retry: got %d %s", resp.Status, resp.Body)
		}
		want := map[string]string{"build": StateAssigned, "unit": StateWaiting, "lint": StateWaiting, "package": StateWaiting}
		if rv.State != RunRunning || !reflect.DeepEqual(states(rv), want) || rv.Jobs[0].Attempt != int64(attempt) {
			t.Fatalf("after retry: got %s %v attempt %d, want running %v attempt %d", rv.State, states(rv), rv.Jobs[0].Attempt, want, attempt)
		}
		if attempt == 2 {
			cancelRunning()
		}
	}
	w.drain(conn, nil)
	if got := w.run(v.ID); got.State != RunPassed {
		t.Fatalf("run: got %s %v, want passed", got.State, states(got))
	}
}

// Retrying by hand restarts the count of automatic retries.
func TestRetryRestartsAutomaticRetries(t *testing.T) {
	w := newWorld(t)
	v := w.submit(`
steps:
  - key: flaky
    command: ./flaky
    retry: {automatic: {exit_status: 7, limit: 1}}
`)
	conn := w.agent("a1", 1, nil)
	w.drain(conn, map[string]int{"flaky": 7})
	if got := w.run(v.ID).Jobs[0]; got.State != StateFailed || got.Attempt != 2 {
		t.Fatalf("got %s attempt %d, want failed after 2 attempts", got.State, got.Attempt)
	}
	if err := w.s.Retry(v.ID, "flaky", "bob"); err != nil {
		t.Fatal(err)
	}
	w.drain(conn, map[string]int{"flaky": 7})
	if got := w.run(v.ID).Jobs[0]; got.State != StateFailed || got.Attempt != 4 {
		t.Fatalf("got %s attempt %d, want failed after attempts 3 and 4", got.State, got.Attempt)
	}
}

func TestRebuild(t *testing.T) {
	w := newWorld(t)
	orig, err := w.s.Submit(SubmitRequest{Pipeline: diamond, Filename: ".airlock/pipeline.yml", Repository: "https://git.example.com/r.git",
		Commit: "c0ffee", Branch: "main", Message: "fix it", CreatedBy: "alice@example.com"})
	if err != nil {
		t.Fatal(err)
	}
	bob := Principal{User: "dev#bob", Email: "bob@example.com", Role: RoleMember}
	var rv RunView
	resp := w.call("POST", "/v1/runs/"+orig.ID+"/rebuild", &rv, bob)
	if resp.Status != 201 || resp.Header["location"] != "/v1/runs/"+rv.ID {
		t.Fatalf("rebuild: got %d location %q %s, want 201 with the new run's location", resp.Status, resp.Header["location"], resp.Body)
	}
	if !strings.Contains(string(resp.Body), `"rebuild_of":"`+orig.ID+`"`) {
		t.Errorf("body %s: want rebuild_of", resp.Body)
	}
	want := orig
	want.ID, want.Number, want.CreatedBy, want.RebuildOf = rv.ID, 2, "bob@example.com", orig.ID
	if rv.ID == orig.ID || !reflect.DeepEqual(rv, want) {
		t.Fatalf("rebuilt run:\ngot  %+v\nwant %+v", rv, want)
	}
	src := w.s.exec(`SELECT a.source = b.source FROM runs a, runs b WHERE a.id = ? AND b.id = ?`, orig.ID, rv.ID)
	if asInt(src[0][0]) != 1 {
		t.Error("the rebuilt run's pipeline source differs from the original's")
	}
	var list struct{ Runs []map[string]any }
	w.call("GET", "/v1/runs", &list)
	if got := list.Runs[0]["rebuild_of"]; got != orig.ID {
		t.Errorf("run list: got rebuild_of %v, want %s", got, orig.ID)
	}
	if _, ok := list.Runs[1]["rebuild_of"]; ok {
		t.Errorf("run list: the original has rebuild_of %v, want none", list.Runs[1]["rebuild_of"])
	}
	// The new run runs on its own.
	conn := w.agent("a1", 2, nil)
	w.drain(conn, nil)
	for _, id := range []string{orig.ID, rv.ID} {
		if got := w.run(id).State; got != RunPassed {
			t.Errorf("run %s: got %s, want passed", id, got)
		}
	}
	for _, tc := range []struct {
		method, path string
		wantStatus   int
		wantBody     string
	}{
		{"POST", "/v1/runs/r_nope/rebuild", 404, `run \"r_nope\" not found`},
		{"GET", "/v1/runs/" + orig.ID + "/rebuild", 405, "want POST"},
	} {
		if resp := w.call(tc.method, tc.path, nil); resp.Status != tc.wantStatus || !strings.Contains(string(resp.Body), tc.wantBody) {
			t.Errorf("%s %s: got %d %s, want %d containing %s", tc.method, tc.path, resp.Status, resp.Body, tc.wantStatus, tc.wantBody)
		}
	}
}

func TestAgentsView(t *testing.T) {
	w := newWorld(t)
	agents := func() []AgentView {
		t.Helper()
		var out struct{ Agents []AgentView }
		if resp := w.call("GET", "/v1/agents", &out); resp.Status != 200 {
			t.Fatalf("agents: got %d %s", resp.Status, resp.Body)
		}
		return out.Agents
	}
	byName := func(as []AgentView) []string {
		var names []string
		for _, a := range as {
			names = append(names, a.Name)
		}
		return names
	}
	v := w.submit(`steps: [{key: build, label: Build it, command: make}]`)
	c1 := w.agent("a1", 2, nil)
	job := w.assigned(c1)[0]
	wantJob := AgentJob{RunID: v.ID, RunNumber: 1, Key: "build", Label: "Build it"}
	if got := agents()[0]; got.Busy != 1 || !reflect.DeepEqual(got.Jobs, []AgentJob{wantJob}) {
		t.Fatalf("assigned: got busy %d jobs %+v, want %+v", got.Busy, got.Jobs, wantJob)
	}
	w.clock = w.clock.Add(time.Second)
	w.send(c1, wire.Frame{Type: wire.TAccept, Accept: &job.JobRef})
	wantJob.StartedMS = w.clock.UnixMilli()
	if got := agents()[0]; !reflect.DeepEqual(got.Jobs, []AgentJob{wantJob}) {
		t.Fatalf("running: got jobs %+v, want %+v", got.Jobs, wantJob)
	}
	w.send(c1, wire.Frame{Type: wire.TFinished, Finished: &wire.Finished{JobRef: job.JobRef}})
	if resp := w.call("GET", "/v1/agents", nil); !strings.Contains(string(resp.Body), `"jobs":[]`) || strings.Contains(string(resp.Body), "disconnected_ms") {
		t.Fatalf("idle: got %s, want jobs [] and no disconnected_ms", resp.Body)
	}

	disconnect := func(conn string) int64 {
		t.Helper()
		delete(w.sock.open, conn)
		if err := w.s.Closed(conn); err != nil {
			t.Fatal(err)
		}
		return w.clock.UnixMilli()
	}
	c2 := w.agent("a2", 1, nil)
	goneAt := disconnect(c2)
	w.clock = w.clock.Add(time.Hour)
	c3 := w.agent("a0", 1, nil)
	laterAt := disconnect(c3)
	as := agents()
	if got := byName(as); !reflect.DeepEqual(got, []string{"a1", "a0", "a2"}) {
		t.Fatalf("order: got %v, want connected a1, then a0 and a2, most recently gone first", got)
	}
	if as[1].Connected || as[1].DisconnectedMS != laterAt || as[2].DisconnectedMS != goneAt || as[0].DisconnectedMS != 0 {
		t.Fatalf("disconnected_ms: got %d %d %d, want 0 %d %d", as[0].DisconnectedMS, as[1].DisconnectedMS, as[2].DisconnectedMS, laterAt, goneAt)
	}

	// A day after a2 went away it is no longer listed; a0 still is.
	w.clock = time.UnixMilli(goneAt).Add(AgentsListedFor + time.Minute)
	if got := byName(agents()); !reflect.DeepEqual(got, []string{"a1", "a0"}) {
		t.Fatalf("a day later: got %v, want [a1 a0]", got)
	}
	// It comes back under the same ID, connected.
	w.agent("a2", 1, nil)
	as = agents()
	if got := byName(as); !reflect.DeepEqual(got, []string{"a1", "a2", "a0"}) || as[1].DisconnectedMS != 0 || !as[1].Connected {
		t.Fatalf("after reconnecting: got %v %+v, want a2 connected again", got, as[1])
	}
}

// Schema v3 gives agents that were already gone their last sign of life as
// the time they went away, so the agents view lists them for a day.
func TestMigrationV3DisconnectedAgents(t *testing.T) {
	db := openDB(t)
	for _, stmt := range append(append([]string{`CREATE TABLE meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)`, `INSERT INTO meta VALUES ('schema', 2)`}, schemaV1...), schemaV2...) {
		if _, err := db.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	for _, a := range []struct {
		name     string
		lastSeen time.Time
	}{{"recent", now.Add(-time.Hour)}, {"old", now.Add(-AgentsListedFor - time.Hour)}} {
		if _, err := db.Exec(`INSERT INTO agents (id, identity, name, connected, last_seen_ms) VALUES (?, 'test:x', ?, 0, ?)`, "a_"+a.name, a.name, a.lastSeen.UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	s, err := New(db, newSockets(), &alarm{}, func() time.Time { return now }, Config{})
	if err != nil {
		t.Fatal(err)
	}
	as, err := s.Agents()
	if err != nil {
		t.Fatal(err)
	}
	if len(as) != 1 || as[0].Name != "recent" || as[0].DisconnectedMS != now.Add(-time.Hour).UnixMilli() {
		t.Fatalf("got %+v, want only the agent seen an hour ago, disconnected then", as)
	}
}
