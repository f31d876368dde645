//go:build e2e

// Package e2e tests Airlock end to end: the real edge Wasm on workerd
// (wrangler dev), real agents over real WebSockets, real git checkouts and
// real Wasm plugins. `make test` builds everything first (`make build`).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"

	"github.com/airlockci/airlock/agent"
	agentid "github.com/airlockci/airlock/agent/identity"
	"github.com/airlockci/airlock/agent/runner"
	"github.com/airlockci/airlock/edge/scheduler"
	"github.com/airlockci/airlock/internal/devstack"
	"github.com/airlockci/airlock/internal/identity"
)

func repoRoot(t testing.TB) string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// stack is a control plane on workerd with its agents' local cloud (STS,
// container credentials, OIDC issuer); stop it with t.Cleanup.
type stack struct {
	t        testing.TB
	cp       *devstack.ControlPlane
	cloud    *devstack.Cloud
	sso      *devstack.Identity
	stateDir string
	port     int
	client   *http.Client
	// token is a CLI session of alice (an admin), signed in through the
	// development identity provider; do sends it.
	token string
}

func startStack(t testing.TB, stateDir string) *stack {
	t.Helper()
	if stateDir == "" {
		stateDir = t.TempDir()
	}
	cloud, err := devstack.StartCloud("e2e")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cloud.Close() })
	port, err := devstack.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	sso, err := devstack.StartIdentity(fmt.Sprintf("http://127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sso.Close() })
	s := &stack{t: t, cloud: cloud, sso: sso, stateDir: stateDir, port: port, client: &http.Client{Timeout: 30 * time.Second}}
	s.start()
	t.Cleanup(s.stop)
	if s.token, err = sso.SignInCLI(context.Background(), s.cp.URL, "alice"); err != nil {
		t.Fatal(err)
	}
	return s
}

// start starts the control plane on the stack's port and state.
func (s *stack) start() {
	s.t.Helper()
	cp, err := devstack.Start(context.Background(), devstack.Options{
		Root: repoRoot(s.t), Port: s.port, StateDir: filepath.Join(s.stateDir, "wrangler"), LogFile: filepath.Join(s.stateDir, "wrangler.log"),
		Pools: s.cloud.Pools(), SSO: s.sso.SSO,
	})
	if err != nil {
		s.t.Fatal(err)
	}
	s.cp = cp
}

// prover proves the dev role through the SDK's container-credentials
// provider pointed at the stack's credentials endpoint, as an ECS task does.
func (s *stack) prover() *agentid.AWS {
	creds := endpointcreds.New(s.cloud.Credentials.URL(), func(o *endpointcreds.Options) {
		o.AuthorizationToken = s.cloud.Credentials.Token
	})
	return &agentid.AWS{Credentials: aws.NewCredentialsCache(creds), Endpoint: s.cloud.STSEndpoint(), Region: "us-east-1"}
}

// proofHeader gets a challenge and answers it, for a hand-made connection.
func (s *stack) proofHeader(t testing.TB) http.Header {
	t.Helper()
	ch, err := agent.Challenge(context.Background(), s.cp.URL)
	if err != nil {
		t.Fatal(err)
	}
	p, err := s.prover().Prove(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	h, err := identity.EncodeProof(p)
	if err != nil {
		t.Fatal(err)
	}
	return http.Header{identity.ProofHeader: []string{h}}
}

func (s *stack) stop() {
	if s.cp != nil {
		if err := s.cp.Stop(); err != nil {
			s.t.Errorf("stopping wrangler: %v", err)
		}
		s.cp = nil
	}
}

// restart stops workerd and starts it again on the same state, and port.
func (s *stack) restart() {
	s.t.Helper()
	s.stop()
	s.start()
}

func (s *stack) do(method, path string, body []byte) (int, []byte, http.Header) {
	s.t.Helper()
	req, err := http.NewRequest(method, s.cp.URL+path, bytes.NewReader(body))
	if err != nil {
		s.t.Fatal(err)
	}
	if len(body) > 0 {
		req.Header.Set("Content-Type", "application/json")
	}
	if s.token != "" {
		req.Header.Set("Authorization", "Bearer "+s.token)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data, resp.Header
}

func (s *stack) submit(req scheduler.SubmitRequest) scheduler.RunView {
	s.t.Helper()
	b, _ := json.Marshal(req)
	code, data, _ := s.do("POST", "/v1/runs", b)
	if code != 201 {
		s.t.Fatalf("submit: got %d %s, want 201", code, data)
	}
	var v scheduler.RunView
	if err := json.Unmarshal(data, &v); err != nil {
		s.t.Fatal(err)
	}
	return v
}

func (s *stack) run(id string) scheduler.RunView {
	s.t.Helper()
	code, data, _ := s.do("GET", "/v1/runs/"+id, nil)
	if code != 200 {
		s.t.Fatalf("get run: got %d %s", code, data)
	}
	var v scheduler.RunView
	if err := json.Unmarshal(data, &v); err != nil {
		s.t.Fatal(err)
	}
	return v
}

func (s *stack) log(runID, key string) string {
	s.t.Helper()
	code, data, _ := s.do("GET", "/v1/runs/"+runID+"/jobs/"+key+"/log", nil)
	if code != 200 {
		s.t.Fatalf("get log: got %d %s", code, data)
	}
	return string(data)
}

// wait polls the run until it is no longer running.
func (s *stack) wait(id string, limit time.Duration) scheduler.RunView {
	s.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		v := s.run(id)
		if v.State != scheduler.RunRunning {
			return v
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("run %s still running after %s: %+v", id, limit, v.Jobs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// startAgent runs an in-process agent over a real WebSocket until the test
// ends; it proves the dev role like an ECS task.
func startAgent(t testing.TB, s *stack, name string, slots int, configure ...func(*agent.Agent)) *agent.Agent {
	t.Helper()
	server := s.cp.URL
	root := repoRoot(t)
	w := &runner.Wasm{PluginPath: []string{filepath.Join(root, "build/plugins")}, CacheDir: filepath.Join(os.TempDir(), "airlock-e2e-wasm-cache")}
	a := &agent.Agent{
		Name: name, Slots: slots, WorkDir: t.TempDir(),
		Dialer: &agent.WebSocketDialer{Server: server, Prover: s.prover()},
		Prover: s.prover(),
		Shell:  &runner.Shell{}, Wasm: w,
		Logf: func(f string, args ...any) { t.Logf(name+": "+f, args...) },
	}
	for _, c := range configure {
		c(a)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = a.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done; w.Close(context.Background()) })
	return a
}

// gitRepo makes a repository with the given files committed and returns
// its path and commit.
func gitRepo(t testing.TB, files map[string]string) (string, string) {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	git := func(args ...string) string {
		cmd := exec.Command("git", args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("add", "-A")
	git("commit", "-q", "-m", "test")
	return dir, git("rev-parse", "HEAD")
}

func states(v scheduler.RunView) map[string]string {
	m := map[string]string{}
	for _, j := range v.Jobs {
		m[j.Key] = j.State
	}
	return m
}

func job(v scheduler.RunView, key string) scheduler.JobView {
	for _, j := range v.Jobs {
		if j.Key == key {
			return j
		}
	}
	return scheduler.JobView{}
}
