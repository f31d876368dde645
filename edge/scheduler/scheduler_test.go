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

const diamond = `
steps:
  - key: build
    command: make build
  - key: unit
    command: make test
    depends_on: build
  - key: lint
    command: make lint
    depends_on: build
  - key: package
    command: make dist
    depends_on: [unit, lint]
`

func TestDiamondRunsInOrderAndInParallel(t *testing.T) {
	w := newWorld(t)
	v := w.submit(diamond)
	if got := states(v); got["build"] != StateQueued || got["unit"] != StateWaiting {
		t.Fatalf("after submit: got %v, want build queued, others waiting", got)
	}
	conn := w.agent("a1", 2, nil)
	jobs := w.assigned(conn)
	if got := keys(jobs); !reflect.DeepEqual(got, []string{"build"}) {
		t.Fatalf("first dispatch: got %v, want [build]", got)
	}
	if jobs[0].Repository != "/repo" || jobs[0].Commit != "abc" || jobs[0].Commands[0] != "make build" {
		t.Errorf("assign carries %+v, want repository, commit and commands", jobs[0])
	}
	w.finish(conn, jobs[0], 0, "built\n")
	// unit and lint become runnable together and both go to the 2-slot agent.
	jobs = w.assigned(conn)
	if got := keys(jobs); !reflect.DeepEqual(got, []string{"lint", "unit"}) {
		t.Fatalf("after build: got %v, want [lint unit] at once", got)
	}
	w.finish(conn, jobs[0], 0, "")
	if got := w.assigned(conn); len(got) != 0 {
		t.Fatalf("package dispatched before both dependencies finished: %v", keys(got))
	}
	w.finish(conn, jobs[1], 0, "")
	jobs = w.assigned(conn)
	if got := keys(jobs); !reflect.DeepEqual(got, []string{"package"}) {
		t.Fatalf("after unit+lint: got %v, want [package]", got)
	}
	w.finish(conn, jobs[0], 0, "")
	if got := w.run(v.ID); got.State != RunPassed {
		t.Fatalf("run state: got %s, want passed (%v)", got.State, states(got))
	}
}

func TestFailedDependencySkipsDependents(t *testing.T) {
	for _, tc := range []struct {
		name     string
		yaml     string
		wantRun  string
		wantNext string
	}{
		{"hard failure", diamond, RunFailed, StateSkipped},
		{"soft_fail", strings.Replace(diamond, "command: make build", "command: make build\n    soft_fail: true", 1), RunPassed, StateQueued},
		{"allow_failure", strings.Replace(diamond, "depends_on: build\n  - key: lint", "depends_on: [{step: build, allow_failure: true}]\n  - key: lint", 1), RunFailed, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			v := w.submit(tc.yaml)
			conn := w.agent("a1", 1, nil)
			w.finish(conn, w.assigned(conn)[0], 3, "boom\n")
			got := states(w.run(v.ID))
			if tc.wantNext != "" && got["unit"] != tc.wantNext && got["unit"] != StateAssigned {
				t.Fatalf("unit: got %s, want %s", got["unit"], tc.wantNext)
			}
			if tc.name == "allow_failure" {
				if got["unit"] == StateSkipped || got["lint"] != StateSkipped {
					t.Fatalf("got %v, want unit released (allow_failure) and lint skipped", got)
				}
			}
			// Drain whatever still runs.
			for i := 0; i < 5; i++ {
				for _, j := range w.assigned(conn) {
					w.finish(conn, j, 0, "")
				}
			}
			if r := w.run(v.ID); r.State != tc.wantRun {
				t.Fatalf("run: got %s, want %s (%v)", r.State, tc.wantRun, states(r))
			}
		})
	}
}

func TestAutomaticRetry(t *testing.T) {
	w := newWorld(t)
	v := w.submit(`
steps:
  - key: flaky
    command: ./flaky
    retry:
      automatic:
        exit_status: 7
        limit: 2
`)
	conn := w.agent("a1", 1, nil)
	for attempt, exit := range []int{7, 7, 7} {
		jobs := w.assigned(conn)
		if len(jobs) != 1 || jobs[0].Attempt != attempt+1 {
			t.Fatalf("attempt %d: got %+v", attempt+1, jobs)
		}
		w.finish(conn, jobs[0], exit, fmt.Sprintf("attempt %d\n", attempt+1))
	}
	got := w.run(v.ID)
	if got.State != RunFailed || got.Jobs[0].Attempt != 3 {
		t.Fatalf("got run %s attempt %d, want failed after 3 attempts", got.State, got.Jobs[0].Attempt)
	}
	// Each attempt keeps its own log.
	for a := int64(1); a <= 3; a++ {
		data, _, done, err := w.s.Log(v.ID, "flaky", a, 0)
		if err != nil || string(data) != fmt.Sprintf("attempt %d\n", a) || !done {
			t.Errorf("log of attempt %d: got %q done=%v err=%v", a, data, done, err)
		}
	}
}

func TestTagsSelectAgents(t *testing.T) {
	w := newWorld(t)
	w.submit(`
steps:
  - key: mac
    command: "true"
    agents: {queue: macos}
  - key: any
    command: "true"
`)
	linux := w.agent("linux", 1, nil)
	mac := w.agent("mac", 1, map[string]string{"queue": "macos"})
	if got := keys(w.assigned(linux)); !reflect.DeepEqual(got, []string{"any"}) {
		t.Errorf("default-queue agent got %v, want [any]", got)
	}
	if got := keys(w.assigned(mac)); !reflect.DeepEqual(got, []string{"mac"}) {
		t.Errorf("macos agent got %v, want [mac]", got)
	}
}

// An agent killed mid-job: after the lease runs out the job is queued again
// and goes to the next agent; it is never "running" forever.
func TestLostAgentRequeuesAfterLease(t *testing.T) {
	w := newWorld(t)
	v := w.submit(`steps: [{key: a, command: "sleep 100"}]`)
	c1 := w.agent("a1", 1, nil)
	j := w.assigned(c1)[0]
	w.send(c1, wire.Frame{Type: wire.TAccept, Accept: &j.JobRef})
	delete(w.sock.open, c1)
	if err := w.s.Closed(c1); err != nil {
		t.Fatal(err)
	}
	if w.alarm.at.IsZero() {
		t.Fatal("no alarm set for the running job's lease")
	}
	w.clock = w.alarm.at
	w.boot() // the Durable Object may have been evicted meanwhile
	if err := w.s.Alarm(); err != nil {
		t.Fatal(err)
	}
	if got := w.run(v.ID).Jobs[0]; got.State != StateQueued || got.Attempt != 2 {
		t.Fatalf("after lease expiry: got %s attempt %d, want queued attempt 2", got.State, got.Attempt)
	}
	c2 := w.agent("a2", 1, nil)
	j2 := w.assigned(c2)
	if len(j2) != 1 || j2[0].Attempt != 2 {
		t.Fatalf("second agent got %+v, want attempt 2", j2)
	}
	w.finish(c2, j2[0], 0, "")
	if got := w.run(v.ID); got.State != RunPassed {
		t.Fatalf("run: got %s, want passed", got.State)
	}
}

// The connection drops after 500 of 1000 log lines; the agent reconnects,
// keeps the job and re-sends what was not acknowledged: exactly 1000 lines
// in order.
func TestReconnectResendsLogExactlyOnce(t *testing.T) {
	w := newWorld(t)
	v := w.submit(`steps: [{key: a, command: "seq 1000"}]`)
	c1 := w.agent("a1", 1, nil)
	j := w.assigned(c1)[0]
	w.send(c1, wire.Frame{Type: wire.TAccept, Accept: &j.JobRef})
	line := func(i int) []byte { return []byte(fmt.Sprintf("line %d\n", i)) }
	for i := 1; i <= 500; i++ {
		w.send(c1, wire.Frame{Type: wire.TLog, Log: &wire.Log{JobRef: j.JobRef, Seq: int64(i), Data: line(i)}})
	}
	// The agent saw acks only up to 480 before the drop.
	delete(w.sock.open, c1)
	if err := w.s.Closed(c1); err != nil {
		t.Fatal(err)
	}
	c2 := w.agent("a1", 1, nil, j.JobRef)
	for _, f := range w.sock.take(c2) {
		if f.Type == wire.TWelcome && len(f.Welcome.Unknown) != 0 {
			t.Fatalf("welcome says the running job is unknown: %+v", f.Welcome)
		}
		if f.Type == wire.TAssign {
			t.Fatalf("job assigned again after reconnect: %+v", f.Assign)
		}
	}
	for i := 481; i <= 1000; i++ {
		w.send(c2, wire.Frame{Type: wire.TLog, Log: &wire.Log{JobRef: j.JobRef, Seq: int64(i), Data: line(i)}})
	}
	w.send(c2, wire.Frame{Type: wire.TFinished, Finished: &wire.Finished{JobRef: j.JobRef, ExitStatus: 0, LastSeq: 1000}})
	data, last, done, err := w.s.Log(v.ID, "a", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var want strings.Builder
	for i := 1; i <= 1000; i++ {
		want.Write(line(i))
	}
	if string(data) != want.String() || last != 1000 || !done {
		t.Fatalf("log: got %d bytes last=%d done=%v, want the 1000 lines once, in order", len(data), last, done)
	}
	if got := w.run(v.ID).State; got != RunPassed {
		t.Fatalf("run: got %s, want passed", got)
	}
}

func TestMalformedFrameClosesOnlyThatConnection(t *testing.T) {
	w := newWorld(t)
	v := w.submit(`steps: [{key: a, command: "true"}]`)
	good := w.agent("good", 1, nil)
	j := w.assigned(good)[0]
	before := w.run(v.ID)
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"garbage", []byte{0xff, 0x00, 0x13}},
		{"text", []byte("hello")},
		{"oversized", make([]byte, wire.MaxFrameSize+1)},
		{"log before hello", mustEncode(t, wire.Frame{Type: wire.TLog, Log: &wire.Log{JobRef: j.JobRef, Seq: 1, Data: []byte("x")}})},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := w.s.Connect(Identity{Kind: "test", Subject: "bad-" + tc.name})
			if err != nil {
				t.Fatal(err)
			}
			w.sock.open[conn] = true
			if _, err := w.s.Message(conn, tc.data); err != nil {
				t.Fatal(err)
			}
			if w.sock.closed[conn] == "" {
				t.Fatalf("connection not closed")
			}
			if !w.sock.open[good] {
				t.Fatalf("the good connection was closed too")
			}
			if got := w.run(v.ID); !reflect.DeepEqual(got, before) {
				t.Fatalf("run changed: got %+v, want %+v", got, before)
			}
		})
	}
}

func mustEncode(t *testing.T, f wire.Frame) []byte {
	b, err := wire.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestCancelRun(t *testing.T) {
	w := newWorld(t)
	v := w.submit(diamond)
	conn := w.agent("a1", 1, nil)
	j := w.assigned(conn)[0]
	w.send(conn, wire.Frame{Type: wire.TAccept, Accept: &j.JobRef})
	if err := w.s.Cancel(v.ID, ""); err != nil {
		t.Fatal(err)
	}
	var cancelled bool
	for _, f := range w.sock.take(conn) {
		cancelled = cancelled || (f.Type == wire.TCancel && f.Cancel.ID == j.ID)
	}
	if !cancelled {
		t.Fatal("the running job's agent was not told to cancel")
	}
	w.send(conn, wire.Frame{Type: wire.TFinished, Finished: &wire.Finished{JobRef: j.JobRef, ExitStatus: -1, Reason: "cancelled"}})
	got := w.run(v.ID)
	if got.State != RunCancelled {
		t.Fatalf("run: got %s, want cancelled (%v)", got.State, states(got))
	}
	for _, jv := range got.Jobs {
		if jv.State != StateCancelled {
			t.Errorf("job %s: got %s, want cancelled", jv.Key, jv.State)
		}
	}
}

func TestAPI(t *testing.T) {
	w := newWorld(t)
	body := func(v any) []byte { b, _ := json.Marshal(v); return b }
	for _, tc := range []struct {
		name       string
		req        Request
		wantStatus int
		wantBody   string
	}{
		{"bad yaml has positions", Request{Method: "POST", URL: "http://x/v1/runs", Body: body(SubmitRequest{Pipeline: "steps:\n  - key: a\n    command: x\n    command: y\n", Filename: "p.yml"})}, 400, `"line":4`},
		{"empty body", Request{Method: "POST", URL: "http://x/v1/runs"}, 400, "empty request body"},
		{"not json", Request{Method: "POST", URL: "http://x/v1/runs", Body: []byte("steps: []")}, 400, "want a JSON object"},
		{"unknown field", Request{Method: "POST", URL: "http://x/v1/runs", Body: []byte(`{"pipelin": "x"}`)}, 400, "unknown field"},
		{"too large", Request{Method: "POST", URL: "http://x/v1/runs", Body: make([]byte, MaxBodyBytes+1)}, 413, "over the limit"},
		{"unknown run", Request{Method: "GET", URL: "http://x/v1/runs/r_nope"}, 404, "not found"},
		{"unknown log", Request{Method: "GET", URL: "http://x/v1/runs/r_nope/jobs/a/log"}, 404, "not found"},
		{"bad after", Request{Method: "GET", URL: "http://x/v1/runs/r_nope/jobs/a/log?after=-1"}, 400, "non-negative integer"},
		{"wrong method", Request{Method: "DELETE", URL: "http://x/v1/runs"}, 405, "want POST or GET"},
		{"no endpoint", Request{Method: "GET", URL: "http://x/v2/nothing"}, 404, "no such endpoint"},
		{"connect without upgrade", Request{Method: "GET", URL: "http://x/v1/agents/connect"}, 426, "WebSocket"},
		{"connect without proof", Request{Method: "GET", URL: "http://x/v1/agents/connect", Header: map[string]string{"upgrade": "websocket"}}, 401, "no Airlock-Identity-Proof header"},
		{"connect with garbage proof", Request{Method: "GET", URL: "http://x/v1/agents/connect", Header: map[string]string{"upgrade": "websocket", "airlock-identity-proof": "%%%"}}, 401, "agent identity not proven"},
		{"challenge", Request{Method: "POST", URL: "http://x/v1/agents/challenge"}, 201, `"challenge":"ach_`},
		{"ok", Request{Method: "POST", URL: "http://x/v1/runs", Body: body(SubmitRequest{Pipeline: diamond})}, 201, `"created_by":"alice@example.com"`},
		{"no session", Request{Method: "GET", URL: "http://x/v1/runs", Header: map[string]string{}}, 401, "not signed in"},
		{"no session, agents list", Request{Method: "GET", URL: "http://x/v1/agents", Header: map[string]string{}}, 401, "not signed in"},
		{"malformed principal", Request{Method: "GET", URL: "http://x/v1/runs", Header: map[string]string{PrincipalHeader: `{"user":""}`}}, 401, "malformed airlock-principal"},
		{"principal without role", Request{Method: "GET", URL: "http://x/v1/runs", Header: map[string]string{PrincipalHeader: `{"user":"u","role":"root"}`}}, 401, "malformed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := w.s.Serve(asPerson(tc.req))
			if resp.Status != tc.wantStatus || !strings.Contains(string(resp.Body), tc.wantBody) {
				t.Fatalf("got %d %s, want %d containing %q", resp.Status, resp.Body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	if resp := w.s.Serve(asPerson(Request{Method: "DELETE", URL: "http://x/v1/runs"})); resp.Header["allow"] != "POST, GET" {
		t.Errorf("405 Allow header: got %q, want %q", resp.Header["allow"], "POST, GET")
	}
	// Refused requests stored nothing.
	if rows := w.s.exec(`SELECT COUNT(*) FROM runs`); asInt(rows[0][0]) != 1 {
		t.Fatalf("got %d runs stored, want only the valid one", asInt(rows[0][0]))
	}
}

// A run survives a restart: a new Scheduler on the same storage carries on.
func TestRunSurvivesRestart(t *testing.T) {
	w := newWorld(t)
	v := w.submit(diamond)
	w.boot()
	conn := w.agent("a1", 4, nil)
	for i := 0; i < 4; i++ {
		for _, j := range w.assigned(conn) {
			w.boot()
			w.finish(conn, j, 0, "")
		}
	}
	if got := w.run(v.ID); got.State != RunPassed {
		t.Fatalf("run: got %s, want passed (%v)", got.State, states(got))
	}
}

func TestMigrations(t *testing.T) {
	w := newWorld(t)
	rows := w.s.exec(`SELECT value FROM meta WHERE key = 'schema'`)
	if len(rows) != 1 || int(asInt(rows[0][0])) != SchemaVersion {
		t.Fatalf("schema version: got %v, want %d", rows, SchemaVersion)
	}
	w.boot() // a second boot on the same database changes nothing
	w.s.exec(`UPDATE meta SET value = ? WHERE key = 'schema'`, int64(SchemaVersion+1))
	if _, err := New(w.db, w.sock, w.alarm, time.Now, Config{}); err == nil || !strings.Contains(err.Error(), "newer than this code") {
		t.Fatalf("a database from a newer version: got %v, want a refusal", err)
	}
}

// A log bigger than a page comes in pages; reading on with after gets every
// byte once.
func TestLogPages(t *testing.T) {
	w := newWorld(t)
	v := w.submit(`steps: [{key: a, command: "yes"}]`)
	conn := w.agent("a1", 1, nil)
	j := w.assigned(conn)[0]
	w.send(conn, wire.Frame{Type: wire.TAccept, Accept: &j.JobRef})
	chunk := strings.Repeat("y\n", wire.MaxLogChunk/2)
	n := 3*MaxLogPage/wire.MaxLogChunk + 5
	for i := 1; i <= n; i++ {
		w.send(conn, wire.Frame{Type: wire.TLog, Log: &wire.Log{JobRef: j.JobRef, Seq: int64(i), Data: []byte(chunk)}})
	}
	w.send(conn, wire.Frame{Type: wire.TFinished, Finished: &wire.Finished{JobRef: j.JobRef, LastSeq: int64(n)}})
	var total int
	var after int64
	for pages := 0; ; pages++ {
		data, last, done, err := w.s.Log(v.ID, "a", 0, after)
		if err != nil {
			t.Fatal(err)
		}
		if len(data) > MaxLogPage {
			t.Fatalf("page of %d bytes, over %d", len(data), MaxLogPage)
		}
		total += len(data)
		after = last
		if done {
			break
		}
		if pages > n {
			t.Fatal("paging does not end")
		}
	}
	if total != n*len(chunk) {
		t.Fatalf("got %d bytes over all pages, want %d", total, n*len(chunk))
	}
}

// asPerson makes req come from a signed-in member, as the Sessions object
// forwards it, unless the test set its own headers.
func asPerson(req Request) Request {
	if req.Header != nil {
		return req
	}
	req.Header = map[string]string{PrincipalHeader: EncodePrincipal(Principal{User: "dev#alice", Email: "alice@example.com", Role: RoleMember})}
	return req
}
