//go:build e2e

package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/airlockci/airlock/edge/scheduler"
	"github.com/airlockci/airlock/internal/wire"
)

var (
	sharedOnce  sync.Once
	sharedStack *stack
	sharedT     = &sharedTB{}
)

// shared returns one control plane for the tests that do not restart it.
func shared(t *testing.T) *stack {
	sharedOnce.Do(func() {
		sharedStack = startStack(sharedT, "")
	})
	if sharedStack == nil || sharedStack.cp == nil {
		t.Fatal("the shared control plane did not start")
	}
	sharedStack.t = t
	return sharedStack
}

func TestMain(m *testing.M) {
	code := m.Run()
	sharedT.cleanup()
	os.Exit(code)
}

// The main job: a pipeline from git with shell steps, a Wasm plugin step,
// two steps that must run at the same time, a join, and a failure whose
// dependent is skipped.
func TestPipelineEndToEnd(t *testing.T) {
	s := shared(t)
	startAgent(t, s, "e2e-main", 2)
	sync := t.TempDir()
	repo, commit := gitRepo(t, map[string]string{"greeting.txt": "airlock\n"})
	pipeline := fmt.Sprintf(`
env:
  REGION: NO
  RATIO: 1.10
  SYNC: %s
steps:
  - key: hello
    command: 'echo "hello $REGION $RATIO from $(cat greeting.txt)"'
  - key: checksum
    wasm:
      module: checksum.wasm
      workspace: read-only
      config: {files: ["greeting.txt"]}
  # left and right each wait for the other: they pass only if they overlap.
  - key: left
    depends_on: hello
    command: 'touch $SYNC/left; for i in $(seq 300); do [ -e $SYNC/right ] && exit 0; sleep 0.1; done; exit 1'
  - key: right
    depends_on: hello
    command: 'touch $SYNC/right; for i in $(seq 300); do [ -e $SYNC/left ] && exit 0; sleep 0.1; done; exit 1'
  - key: join
    depends_on: [left, right]
    command: echo joined
  - key: broken
    depends_on: join
    command: exit 3
  - key: after-broken
    depends_on: broken
    command: echo never
`, sync)
	v := s.submit(scheduler.SubmitRequest{Pipeline: pipeline, Filename: "e2e.yml", Repository: repo, Commit: commit})
	v = s.wait(v.ID, 3*time.Minute)
	want := map[string]string{"hello": "passed", "checksum": "passed", "left": "passed", "right": "passed", "join": "passed", "broken": "failed", "after-broken": "skipped"}
	if got := states(v); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("states: got %v, want %v", got, want)
	}
	if v.State != scheduler.RunFailed {
		t.Errorf("run: got %s, want failed", v.State)
	}
	if j := job(v, "broken"); j.ExitStatus == nil || *j.ExitStatus != 3 || j.Agent != "e2e-main" {
		t.Errorf("broken: got exit %v agent %q, want 3 on e2e-main", j.ExitStatus, j.Agent)
	}
	if got := s.log(v.ID, "hello"); !strings.Contains(got, "hello NO 1.10 from airlock") {
		t.Errorf("hello log: got %q, want the values exactly as written", got)
	}
	sum := sha256.Sum256([]byte("airlock\n"))
	if got := s.log(v.ID, "checksum"); !strings.Contains(got, hex.EncodeToString(sum[:])+"  greeting.txt") {
		t.Errorf("checksum log: got %q, want the file's sha256", got)
	}
	l, r := job(v, "left"), job(v, "right")
	if l.StartedMS >= r.FinishedMS || r.StartedMS >= l.FinishedMS {
		t.Errorf("left [%d,%d] and right [%d,%d] did not overlap", l.StartedMS, l.FinishedMS, r.StartedMS, r.FinishedMS)
	}
	if j := job(v, "join"); j.StartedMS < l.FinishedMS || j.StartedMS < r.FinishedMS {
		t.Errorf("join started before both dependencies finished")
	}
}

func TestBadRequests(t *testing.T) {
	s := shared(t)
	before, _ := json.Marshal(mustGet(t, s, "/v1/runs"))
	for _, tc := range []struct {
		name, method, path string
		body               []byte
		wantStatus         int
		wantBody           string
	}{
		{"yaml error with position", "POST", "/v1/runs", []byte(`{"pipeline":"steps:\n  - key: a\n    command: x\n    command: y\n","filename":"p.yml"}`), 400, `"line":4,"column":5`},
		{"tab indentation", "POST", "/v1/runs", []byte(`{"pipeline":"steps:\n  - key: a\n\tcommand: x\n","filename":"p.yml"}`), 400, `"line":3`},
		{"cycle", "POST", "/v1/runs", []byte(`{"pipeline":"steps:\n  - {key: a, command: x, depends_on: b}\n  - {key: b, command: x, depends_on: a}\n"}`), 400, "cycle"},
		{"no body", "POST", "/v1/runs", nil, 400, "empty request body"},
		{"not json", "POST", "/v1/runs", []byte("steps: []"), 400, "want a JSON object"},
		{"over the limit", "POST", "/v1/runs", make([]byte, scheduler.MaxBodyBytes+10), 413, "over the limit"},
		{"unknown run", "GET", "/v1/runs/r_0000", nil, 404, "not found"},
		{"unknown job log", "GET", "/v1/runs/r_0000/jobs/x/log", nil, 404, "not found"},
		{"wrong method", "PUT", "/v1/runs", []byte("{}"), 405, "method not allowed"},
		{"no endpoint", "GET", "/v1/nothing", nil, 404, "no such endpoint"},
		{"not the API: the dashboard's 404 page", "GET", "/v2", nil, 404, "Page not found"},
		{"connect without upgrade", "GET", "/v1/agents/connect", nil, 426, "WebSocket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, body, _ := s.do(tc.method, tc.path, tc.body)
			if code != tc.wantStatus || !strings.Contains(string(body), tc.wantBody) {
				t.Fatalf("got %d %s, want %d with %q", code, body, tc.wantStatus, tc.wantBody)
			}
		})
	}
	after, _ := json.Marshal(mustGet(t, s, "/v1/runs"))
	if string(before) != string(after) {
		t.Fatalf("refused requests changed the runs:\nbefore %s\nafter  %s", before, after)
	}
}

func mustGet(t *testing.T, s *stack, path string) any {
	code, body, _ := s.do("GET", path, nil)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", path, code, body)
	}
	var v any
	_ = json.Unmarshal(body, &v)
	return v
}

// A malformed or oversized frame closes that connection with a reason;
// another agent and the runs are untouched.
func TestBadFramesCloseOnlyThatConnection(t *testing.T) {
	s := shared(t)
	good := startAgent(t, s, "e2e-good", 1)
	_ = good
	waitConnected(t, s, "e2e-good")
	runsBefore, _ := json.Marshal(mustGet(t, s, "/v1/runs"))
	hello, _ := wire.Encode(wire.Frame{Type: wire.THello, Hello: &wire.Hello{Name: "e2e-bad", Slots: 1}})
	for _, tc := range []struct {
		name     string
		frames   [][]byte
		text     bool
		wantCode int
		wantText string
	}{
		{"garbage", [][]byte{{0xff, 0xfe, 0x01}}, false, 1002, "decode frame"},
		{"text frame", [][]byte{[]byte("hello")}, true, 1002, "decode frame"},
		{"frame before hello", [][]byte{mustFrame(t, wire.Frame{Type: wire.THeartbeat, Heartbeat: &wire.Heartbeat{}})}, false, 1002, "before hello"},
		{"hello twice", [][]byte{hello, hello}, false, 1002, "hello sent twice"},
		{"oversized", [][]byte{make([]byte, wire.MaxFrameSize+1)}, false, 1009, "too large"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := websocket.DefaultDialer.Dial(strings.Replace(s.cp.URL, "http", "ws", 1)+"/v1/agents/connect", s.proofHeader(t))
			if err != nil {
				t.Fatalf("dial: %v (%v)", err, resp)
			}
			defer c.Close()
			for _, f := range tc.frames {
				typ := websocket.BinaryMessage
				if tc.text {
					typ = websocket.TextMessage
				}
				if err := c.WriteMessage(typ, f); err != nil {
					t.Fatal(err)
				}
			}
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			for {
				_, _, err := c.ReadMessage()
				if err == nil {
					continue // the Welcome or Error frame before the close
				}
				ce, ok := err.(*websocket.CloseError)
				if !ok {
					t.Fatalf("got %v, want a close frame %d", err, tc.wantCode)
				}
				if ce.Code != tc.wantCode || !strings.Contains(ce.Text, tc.wantText) {
					t.Fatalf("closed with %d %q, want %d with %q", ce.Code, ce.Text, tc.wantCode, tc.wantText)
				}
				break
			}
			waitConnected(t, s, "e2e-good")
		})
	}
	runsAfter, _ := json.Marshal(mustGet(t, s, "/v1/runs"))
	if string(runsBefore) != string(runsAfter) {
		t.Fatalf("bad frames changed the runs")
	}
}

func mustFrame(t *testing.T, f wire.Frame) []byte {
	b, err := wire.Encode(f)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func waitConnected(t *testing.T, s *stack, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var out struct {
			Agents []scheduler.AgentView `json:"agents"`
		}
		_, body, _ := s.do("GET", "/v1/agents", nil)
		_ = json.Unmarshal(body, &out)
		for _, a := range out.Agents {
			if a.Name == name && a.Connected {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("agent %s not connected", name)
}

// The agent binary dials out and listens on no port at all.
func TestAgentIsOutboundOnly(t *testing.T) {
	s := shared(t)
	root := repoRoot(t)
	cmd := exec.Command(filepath.Join(root, "build/bin/airlock-agent"), "--server", s.cp.URL, "--name", "e2e-outbound",
		"--identity", "aws", "--identity-sts-endpoint", s.cloud.STSEndpoint(), "--identity-region", "us-east-1",
		"--work-dir", t.TempDir(), "--tags", "role=outbound")
	// The agent binary finds its credentials as in ECS: the SDK's container
	// provider, from the environment.
	cmd.Env = append(os.Environ(), s.cloud.Credentials.Env()...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }()
	waitConnected(t, s, "e2e-outbound")
	v := s.submit(scheduler.SubmitRequest{Pipeline: "steps:\n  - key: a\n    command: echo out\n    agents: {role: outbound}\n"})
	if v = s.wait(v.ID, time.Minute); v.State != scheduler.RunPassed {
		t.Fatalf("run: %s", v.State)
	}
	listening, established := socketsOf(t, cmd.Process.Pid)
	if len(listening) > 0 {
		t.Fatalf("the agent listens on %v; it must only dial out", listening)
	}
	port := s.cp.URL[strings.LastIndex(s.cp.URL, ":")+1:]
	found := false
	for _, e := range established {
		found = found || strings.HasSuffix(e, ":"+port)
	}
	if !found {
		t.Fatalf("no outbound connection to the control plane among %v", established)
	}
}

// socketsOf lists a process's TCP sockets in LISTEN state and the remote
// ends of its established ones, from /proc.
func socketsOf(t *testing.T, pid int) (listening, established []string) {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		link, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(link, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(link, "socket:["), "]")] = true
		}
	}
	for _, table := range []string{"tcp", "tcp6"} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/net/%s", pid, table))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n")[1:] {
			f := strings.Fields(line)
			if len(f) < 10 || !inodes[f[9]] {
				continue
			}
			switch f[3] {
			case "0A":
				listening = append(listening, f[1])
			case "01":
				remote := f[2]
				p, _ := strconv.ParseInt(remote[strings.LastIndex(remote, ":")+1:], 16, 32)
				established = append(established, fmt.Sprintf("%s:%d", remote[:strings.LastIndex(remote, ":")], p))
			}
		}
	}
	return listening, established
}
