package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/airlockci/airlock/agent"
	"github.com/airlockci/airlock/agent/local"
	"github.com/airlockci/airlock/agent/runner"
	"github.com/airlockci/airlock/agent/secrets"
	"github.com/airlockci/airlock/edge/scheduler"
	"github.com/airlockci/airlock/internal/cliauth"
	"github.com/airlockci/airlock/internal/pipeline"
)

// runAPI is what following a run needs; the HTTP client and the in-process
// control plane both provide it.
type runAPI interface {
	Submit(scheduler.SubmitRequest) (scheduler.RunView, error)
	Run(id string) (scheduler.RunView, error)
	Log(runID, key string, after int64) ([]byte, int64, bool, error)
	Cancel(runID string) error
}

func runCmd(args []string) int {
	fs := newFlagSet("run", "")
	serverURL := serverFlag(fs)
	follow := fs.Bool("follow", false, "follow the run until it ends; exit non-zero if it fails")
	logs := fs.Bool("logs", false, "stream every step's log while following")
	localRun := fs.Bool("local", false, "run on this machine with the agent's step runner, no control plane")
	repo := fs.String("repo", "", "repository agents check out (default: this checkout's path for a local server, else its origin URL)")
	ageIdentity := fs.String("age-identity", "", "with --local: age identity file for the pipeline's age:// secrets")
	pluginPath := fs.String("plugin-path", "", "folders (colon-separated) where --local finds Wasm plugins by name (default: build/plugins of the pipeline's checkout)")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return flagsFailed(err)
	}
	if len(pos) != 1 {
		fmt.Fprintln(os.Stderr, "airlock run: name exactly one pipeline file")
		return 2
	}
	server, err := serverURL()
	if err != nil && !*localRun {
		fmt.Fprintf(os.Stderr, "airlock run: %v\n", err)
		return 2
	}
	file := pos[0]
	src, err := os.ReadFile(file)
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock run: %v\n", err)
		return 1
	}
	if len(src) > pipeline.MaxSize {
		fmt.Fprintf(os.Stderr, "airlock run: %s is %d bytes; a pipeline may be at most %d bytes\n", file, len(src), pipeline.MaxSize)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// After the first interrupt cancels the run, a second one ends the CLI.
	context.AfterFunc(ctx, stop)
	req := scheduler.SubmitRequest{Pipeline: string(src), Filename: file}
	if *localRun {
		paths := filepath.SplitList(*pluginPath)
		if len(paths) == 0 {
			paths = []string{filepath.Join(checkoutRoot(file), "build", "plugins")}
		}
		return runLocal(ctx, req, *logs, paths, *ageIdentity)
	}
	describeCheckout(&req, file, *repo, server)
	store, err := credentialStore()
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock run: %v\n", err)
		return 1
	}
	token, err := store.Token(server)
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock run: %v\n", err)
		return 1
	}
	api := &httpAPI{base: server, client: &http.Client{Timeout: 30 * time.Second}, token: token}
	v, err := api.Submit(req)
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock run: %v\n", err)
		return 1
	}
	fmt.Printf("run #%d %s submitted: %s\n", v.Number, v.ID, runPage(api.base, v.ID))
	if !*follow {
		return 0
	}
	return followRun(ctx, api, v, *logs, os.Stdout)
}

// runPage is the run's page on the dashboard (the API's /v1/runs/ID is
// JSON, of no use in a browser).
func runPage(server, id string) string {
	return strings.TrimSuffix(server, "/") + "/runs/view/?id=" + url.QueryEscape(id)
}

// checkoutRoot is the top of the git checkout holding file, or file's folder.
func checkoutRoot(file string) string {
	dir := filepath.Dir(file)
	out, err := exec.Command("git", "-C", dir, "rev-parse", "--show-toplevel").Output()
	if err != nil {
		abs, _ := filepath.Abs(dir)
		return abs
	}
	return strings.TrimSpace(string(out))
}

// describeCheckout fills in what agents check out: the repository and the
// commit the pipeline file belongs to.
func describeCheckout(req *scheduler.SubmitRequest, file, repo, server string) {
	dir := filepath.Dir(file)
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	top := git("rev-parse", "--show-toplevel")
	if top == "" {
		fmt.Fprintf(os.Stderr, "airlock run: note: %s is not in a git checkout; agents get an empty workspace\n", file)
		return
	}
	if abs, err := filepath.Abs(file); err == nil {
		if rel, err := filepath.Rel(top, abs); err == nil {
			req.Filename = rel
		}
	}
	req.Commit = git("rev-parse", "HEAD")
	req.Branch = git("rev-parse", "--abbrev-ref", "HEAD")
	req.Message = git("log", "-1", "--format=%s")
	req.Repository = repo
	if req.Repository == "" {
		if u, err := url.Parse(server); err == nil && (u.Hostname() == "127.0.0.1" || u.Hostname() == "localhost" || u.Hostname() == "::1") {
			req.Repository = top
		} else {
			req.Repository = git("remote", "get-url", "origin")
		}
	}
	if git("status", "--porcelain", "--untracked-files=no") != "" {
		fmt.Fprintf(os.Stderr, "airlock run: note: uncommitted changes are not part of the run; agents check out %.12s\n", req.Commit)
	}
}

func runLocal(ctx context.Context, req scheduler.SubmitRequest, logs bool, pluginPath []string, ageIdentity string) int {
	cp, err := local.New(func(string, ...any) {})
	if err != nil {
		fmt.Fprintf(os.Stderr, "airlock run --local: %v\n", err)
		return 1
	}
	defer cp.Close()
	wd, _ := os.Getwd()
	cache, _ := os.UserCacheDir()
	wasm := &runner.Wasm{PluginPath: pluginPath, CacheDir: filepath.Join(cache, "airlock", "wasm")}
	defer wasm.Close(context.Background())
	a := &agent.Agent{
		Name: "local", Slots: runtime.NumCPU(), Workspace: wd,
		Dialer: cp.Dialer("local"), Shell: &runner.Shell{}, Wasm: wasm,
		Container: &runner.Container{}, // $DOCKER_HOST, else /var/run/docker.sock
	}
	// The same resolution as on an agent, with this machine's identity.
	if a.Secrets, err = secrets.Local(ageIdentity); err != nil {
		fmt.Fprintf(os.Stderr, "airlock run --local: %v\n", err)
		return 1
	}
	actx, cancelAgent := context.WithCancel(context.Background())
	agentDone := make(chan struct{})
	go func() { _ = a.Run(actx); close(agentDone) }()
	defer func() { cancelAgent(); <-agentDone }()
	v, err := cp.Submit(req)
	if err != nil {
		var he *scheduler.HTTPError
		if errors.As(err, &he) {
			err = errors.New(he.Message)
		}
		fmt.Fprintf(os.Stderr, "airlock run --local: %v\n", err)
		return 1
	}
	fmt.Printf("local run of %s (%d steps) in %s\n", req.Filename, len(v.Jobs), wd)
	return followRun(ctx, cp, v, logs, os.Stdout)
}

// followRun prints the run's progress until it ends, then a table of its
// steps and the tail of each log. Interrupting it cancels the run.
func followRun(ctx context.Context, api runAPI, v scheduler.RunView, logs bool, out io.Writer) int {
	start := time.Now()
	seen := map[string]string{}
	after := map[string]int64{}
	partial := map[string]string{}
	cancelled := false
	for {
		if ctx.Err() != nil && !cancelled {
			cancelled = true
			fmt.Fprintln(out, "interrupted: cancelling the run (interrupt again to stop following)")
			if err := api.Cancel(v.ID); err != nil {
				fmt.Fprintf(os.Stderr, "cancel: %v\n", err)
				return 1
			}
		}
		cur, err := api.Run(v.ID)
		if err != nil {
			fmt.Fprintf(os.Stderr, "airlock: following run %s: %v\n", v.ID, err)
			if ctx.Err() != nil {
				return 1
			}
			time.Sleep(time.Second)
			continue
		}
		for _, j := range cur.Jobs {
			if logs && (j.State == scheduler.StateRunning || seen[j.Key] == scheduler.StateRunning) {
				data, last, _, err := api.Log(v.ID, j.Key, after[j.Key])
				if err == nil {
					after[j.Key] = last
					printPrefixed(out, j.Key, partial, data)
				}
			}
			if seen[j.Key] != j.State {
				seen[j.Key] = j.State
				fmt.Fprintf(out, "%s  %-20s %s\n", time.Now().Format("15:04:05.000"), j.Key, describe(j))
			}
		}
		if cur.State != scheduler.RunRunning {
			for key, rest := range partial {
				if rest != "" {
					fmt.Fprintf(out, "[%s] %s\n", key, rest)
				}
			}
			summarize(out, api, cur, time.Since(start))
			if cur.State == scheduler.RunPassed {
				return 0
			}
			return 1
		}
		if cancelled {
			// Interrupted: the run is winding down; keep polling at the
			// normal pace (ctx is done, so it no longer paces the loop).
			time.Sleep(250 * time.Millisecond)
			continue
		}
		select {
		case <-ctx.Done():
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func describe(j scheduler.JobView) string {
	switch j.State {
	case scheduler.StateAssigned, scheduler.StateRunning:
		s := j.State + " on " + j.Agent
		if j.Attempt > 1 {
			s += fmt.Sprintf(" (attempt %d)", j.Attempt)
		}
		return s
	case scheduler.StatePassed, scheduler.StateFailed, scheduler.StateCancelled:
		s := j.State
		if j.ExitStatus != nil && *j.ExitStatus != 0 {
			s += fmt.Sprintf(" (exit %d)", *j.ExitStatus)
		}
		if j.Reason != "" && j.Reason != j.State {
			s += ": " + j.Reason
		}
		if j.SoftFailed {
			s += " [soft fail]"
		}
		return s
	case scheduler.StateSkipped:
		return "skipped: " + j.Reason
	}
	return j.State
}

func printPrefixed(out io.Writer, key string, partial map[string]string, data []byte) {
	text := partial[key] + string(data)
	lines := strings.Split(text, "\n")
	for _, l := range lines[:len(lines)-1] {
		fmt.Fprintf(out, "[%s] %s\n", key, l)
	}
	partial[key] = lines[len(lines)-1]
}

// summarize prints the per-step table and each step's log tail.
func summarize(out io.Writer, api runAPI, v scheduler.RunView, took time.Duration) {
	fmt.Fprintln(out)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "KEY\tSTATE\tAGENT\tDURATION")
	for _, j := range v.Jobs {
		dur := "-"
		if j.StartedMS > 0 && j.FinishedMS >= j.StartedMS {
			dur = (time.Duration(j.FinishedMS-j.StartedMS) * time.Millisecond).Round(10 * time.Millisecond).String()
		}
		agentName := j.Agent
		if agentName == "" {
			agentName = "-"
		}
		state := j.State
		if j.SoftFailed {
			state += " (soft)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", j.Key, state, agentName, dur)
	}
	tw.Flush()
	for _, j := range v.Jobs {
		data := logTail(api, v.ID, j.Key)
		if len(bytes.TrimSpace(data)) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		const tail = 8
		if len(lines) > tail {
			lines = lines[len(lines)-tail:]
		}
		fmt.Fprintf(out, "\n--- %s (last %d lines) ---\n", j.Key, len(lines))
		for _, l := range lines {
			fmt.Fprintf(out, "  %s\n", l)
		}
	}
	fmt.Fprintf(out, "\nrun #%d %s in %s\n", v.Number, v.State, took.Round(10*time.Millisecond))
}

// logTail reads a job's whole log page by page, keeping the last 64 KiB.
func logTail(api runAPI, runID, key string) []byte {
	var tail []byte
	var after int64
	for {
		data, last, done, err := api.Log(runID, key, after)
		if err != nil {
			return tail
		}
		tail = append(tail, data...)
		if len(tail) > 64<<10 {
			tail = tail[len(tail)-64<<10:]
		}
		if done || last == after {
			return tail
		}
		after = last
	}
}

// httpAPI is the control plane's HTTP API.
type httpAPI struct {
	base   string
	client *http.Client
	// token is the CLI's session (airlock login), sent as a bearer token.
	token string
}

type apiError struct {
	Error   string `json:"error"`
	ID      string `json:"id"`
	Details []struct {
		File    string `json:"file"`
		Line    int    `json:"line"`
		Column  int    `json:"column"`
		Message string `json:"message"`
	} `json:"details"`
}

func (h *httpAPI) do(method, path string, body any, out any) (*http.Response, []byte, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return nil, nil, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.base+path, rd)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("content-type", "application/json")
	}
	if h.token != "" {
		req.Header.Set("authorization", "Bearer "+h.token)
	}
	req.Header.Set("user-agent", cliauth.UserAgent)
	resp, err := h.client.Do(req)
	if err != nil {
		return nil, nil, &cliauth.UnreachableError{Server: h.base, Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, nil, err
	}
	if resp.StatusCode == http.StatusUnauthorized && !strings.HasPrefix(path, "/v1/agents/") {
		if h.token == "" {
			return resp, nil, fmt.Errorf("not signed in to %s: run `airlock login --server %s`", h.base, h.base)
		}
		return resp, nil, fmt.Errorf("the session for %s has ended (expired or revoked): run `airlock login --server %s`", h.base, h.base)
	}
	if resp.StatusCode >= 300 {
		var ae apiError
		if json.Unmarshal(data, &ae) == nil && ae.Error != "" {
			if len(ae.Details) > 0 {
				var b strings.Builder
				for _, d := range ae.Details {
					fmt.Fprintf(&b, "\n%s:%d:%d: %s", d.File, d.Line, d.Column, d.Message)
				}
				return resp, nil, errors.New("the control plane refused the pipeline:" + b.String())
			}
			if ae.ID != "" {
				return resp, nil, fmt.Errorf("%s (%s, error ID %s)", ae.Error, resp.Status, ae.ID)
			}
			return resp, nil, fmt.Errorf("%s (%s)", ae.Error, resp.Status)
		}
		return resp, nil, fmt.Errorf("%s %s: %s", method, path, resp.Status)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp, nil, fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	return resp, data, nil
}

func (h *httpAPI) Submit(req scheduler.SubmitRequest) (scheduler.RunView, error) {
	var v scheduler.RunView
	_, _, err := h.do("POST", "/v1/runs", req, &v)
	return v, err
}

func (h *httpAPI) Run(id string) (scheduler.RunView, error) {
	var v scheduler.RunView
	_, _, err := h.do("GET", "/v1/runs/"+url.PathEscape(id), nil, &v)
	return v, err
}

func (h *httpAPI) Log(runID, key string, after int64) ([]byte, int64, bool, error) {
	resp, data, err := h.do("GET", fmt.Sprintf("/v1/runs/%s/jobs/%s/log?after=%d", url.PathEscape(runID), url.PathEscape(key), after), nil, nil)
	if err != nil {
		return nil, 0, false, err
	}
	last, _ := strconv.ParseInt(resp.Header.Get("airlock-log-seq"), 10, 64)
	return data, last, resp.Header.Get("airlock-log-end") == "true", nil
}

func (h *httpAPI) Cancel(runID string) error {
	_, _, err := h.do("POST", "/v1/runs/"+url.PathEscape(runID)+"/cancel", nil, nil)
	return err
}
