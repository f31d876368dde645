package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/airlockci/airlock/agent"
	agentid "github.com/airlockci/airlock/agent/identity"
	"github.com/airlockci/airlock/agent/runner"
	"github.com/airlockci/airlock/agent/secrets"
	"github.com/airlockci/airlock/edge/scheduler"
	"github.com/airlockci/airlock/internal/cliauth"
	"github.com/airlockci/airlock/internal/devstack"
)

// devCmd starts the control plane on workerd and one agent that dials out to
// it; with --run it submits a pipeline, follows it, and stops everything.
func devCmd(args []string) int {
	fs := newFlagSet("dev", "")
	port := fs.Int("port", 8787, "port on 127.0.0.1 for the control plane")
	state := fs.String("state", ".state", "folder for the control plane's persisted state and the agent's workspaces")
	runFile := fs.String("run", "", "submit this pipeline, follow it, then stop everything")
	logs := fs.Bool("logs", false, "with --run: stream every step's log")
	slots := fs.Int("slots", 2, "jobs the agent runs at once")
	ageIdentity := fs.String("age-identity", "", "age identity file for the pipeline's age:// secrets")
	if _, err := parseInterspersed(fs, args); err != nil {
		return flagsFailed(err)
	}
	root, err := os.Getwd()
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	stateDir, _ := filepath.Abs(*state)
	logFile := filepath.Join(stateDir, "wrangler.log")
	if err := os.MkdirAll(stateDir, 0o755); err != nil {
		fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
		return 1
	}
	const agentName = "dev-agent-1"
	// A secret only the agent has, for the demo pipeline's secret-masking step.
	if os.Getenv("AIRLOCK_DEMO_TOKEN") == "" {
		b := make([]byte, 16)
		_, _ = rand.Read(b)
		os.Setenv("AIRLOCK_DEMO_TOKEN", "demo-"+hex.EncodeToString(b))
	}
	// The agent's cloud: a local STS and container-credentials endpoint stand
	// in for AWS, so the agent proves its role exactly as it would in ECS.
	cloud, err := devstack.StartCloud(agentName)
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
		return 1
	}
	defer cloud.Close()
	if err := cloud.UseCredentials(); err != nil {
		fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
		return 1
	}
	// The company's SSO: a real OpenID provider with test users, on
	// localhost (another site than the control plane's 127.0.0.1, so the
	// browser's sign-in crosses sites as it does in production).
	if *port == 0 {
		if *port, err = devstack.FreePort(); err != nil {
			fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
			return 1
		}
	}
	publicURL := fmt.Sprintf("http://127.0.0.1:%d", *port)
	sso, err := devstack.StartIdentity(publicURL)
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
		return 1
	}
	defer sso.Close()
	fmt.Printf("starting the control plane on workerd (wrangler dev; log: %s)\n", logFile)
	cp, err := devstack.Start(ctx, devstack.Options{
		Root: root, Port: *port, StateDir: filepath.Join(stateDir, "wrangler"), LogFile: logFile,
		Pools: cloud.Pools(), SSO: sso.SSO,
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
		return 1
	}
	defer func() {
		if err := cp.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "airlock dev: stopping wrangler: %v\n", err)
		}
	}()

	wasm := &runner.Wasm{PluginPath: []string{filepath.Join(root, "build/plugins")}, CacheDir: filepath.Join(stateDir, "wasm-cache")}
	defer wasm.Close(context.Background())
	prover, err := agentid.NewAWS(ctx, "us-east-1", cloud.STSEndpoint())
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
		return 1
	}
	a := &agent.Agent{
		Name:    agentName,
		Tags:    map[string]string{"queue": "default", "os": "linux"},
		Slots:   *slots,
		WorkDir: filepath.Join(stateDir, "agent"),
		// No token, no key: the agent proves its AWS role (from the
		// container-credentials endpoint) with a signed GetCallerIdentity.
		Dialer: &agent.WebSocketDialer{Server: cp.URL, Prover: prover},
		Prover: prover,
		Shell:  &runner.Shell{},
		Wasm:   wasm,
		// $DOCKER_HOST, else /var/run/docker.sock: see docs/OPERATING.md.
		Container: &runner.Container{},
		Logf:      func(f string, a ...any) { fmt.Fprintf(os.Stderr, "agent: "+f+"\n", a...) },
	}
	if a.Secrets, err = secrets.Local(*ageIdentity); err != nil {
		fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
		return 1
	}
	actx, cancelAgent := context.WithCancel(context.Background())
	agentDone := make(chan error, 1)
	go func() { agentDone <- a.Run(actx) }()
	defer func() { cancelAgent(); <-agentDone }()

	// The CLI signs in like a person would, through the device flow; the
	// development provider approves the code itself.
	token, err := sso.SignInCLI(ctx, cp.URL, "alice")
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
		return 1
	}
	// The session ends with airlock dev (before the control plane stops:
	// deferred calls run last first), and so does the stored token.
	var stored *cliauth.Store
	defer func() {
		// ctx is already cancelled after a Ctrl-C.
		lctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cliauth.Logout(lctx, &http.Client{}, cp.URL, token); err != nil {
			fmt.Fprintf(os.Stderr, "airlock dev: ending the CLI's session: %v\n", err)
		}
		if stored != nil {
			if err := stored.Forget(cp.URL, token); err != nil {
				fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
			}
		}
	}()
	api := &httpAPI{base: cp.URL, client: &http.Client{Timeout: 30 * time.Second}, token: token}
	if err := waitForAgent(ctx, api, a.Name); err != nil {
		fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
		return 1
	}
	fmt.Printf("dashboard:     %s/   sign in as alice / %s (admin) or bob / %s (member)\n", cp.URL, devstack.Password("alice"), devstack.Password("bob"))
	fmt.Printf("control plane: %s   (API: %s/v1/runs, agents: %s/v1/agents)\n", cp.URL, cp.URL, cp.URL)
	fmt.Printf("identity:      %s (development OpenID provider)\n", sso.IdP.Issuer())
	fmt.Printf("agent:         %s connected as arn:aws:iam::%s:role/%s (pool dev), %d slots, workspaces in %s\n",
		a.Name, devstack.DevAccount, devstack.DevRole, a.Slots, a.WorkDir)

	if *runFile == "" {
		// Keep the CLI signed in for other terminals, as airlock login would.
		if store, err := credentialStore(); err == nil {
			endStored(ctx, store, cp.URL, "airlock dev")
			if store.Save(cp.URL, token) == nil {
				stored = &store
				fmt.Printf("the CLI is signed in as alice until this stops (%s)\n", store.Path)
			}
		}
		fmt.Printf("submit a pipeline:  %s run --server %s .airlock/pipeline.yml --follow\n", invokedAs(), cp.URL)
		fmt.Println("press Ctrl-C to stop")
		select {
		case <-ctx.Done():
		case <-cp.Done():
			fmt.Fprintf(os.Stderr, "airlock dev: wrangler exited; see %s\n", logFile)
			return 1
		case err := <-agentDone:
			agentDone <- err
			fmt.Fprintf(os.Stderr, "airlock dev: agent stopped: %v\n", err)
			return 1
		}
		fmt.Println("stopping")
		return 0
	}
	src, err := os.ReadFile(*runFile)
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
		return 1
	}
	req := scheduler.SubmitRequest{Pipeline: string(src), Filename: *runFile}
	describeCheckout(&req, *runFile, "", cp.URL)
	v, err := api.Submit(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock dev: %v\n", err)
		return 1
	}
	fmt.Printf("run #%d %s: %s\n", v.Number, v.ID, runPage(cp.URL, v.ID))
	return followRun(ctx, api, v, *logs, os.Stdout)
}

// invokedAs is how to run this binary again from the same folder:
// "airlock" when that finds it on $PATH, else the path it was started by
// (build/bin/airlock under make dev).
func invokedAs() string {
	if !strings.ContainsRune(os.Args[0], os.PathSeparator) {
		return os.Args[0]
	}
	if onPath, err := exec.LookPath("airlock"); err == nil {
		self, err1 := os.Stat(os.Args[0])
		found, err2 := os.Stat(onPath)
		if err1 == nil && err2 == nil && os.SameFile(self, found) {
			return "airlock"
		}
	}
	return os.Args[0]
}

// waitForAgent waits until the control plane lists the agent as connected.
func waitForAgent(ctx context.Context, api *httpAPI, name string) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var out struct {
			Agents []struct {
				Name      string `json:"name"`
				Connected bool   `json:"connected"`
			} `json:"agents"`
		}
		if _, _, err := api.do("GET", "/v1/agents", nil, &out); err == nil {
			for _, a := range out.Agents {
				if a.Name == name && a.Connected {
					return nil
				}
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("agent %s did not connect within 30s", name)
}
