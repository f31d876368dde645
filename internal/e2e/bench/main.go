//go:build e2e

// Command bench measures the control plane on local workerd: dispatch
// latency (a job becomes runnable → its agent receives it) and API request
// latency against a plain-JS route measured in the same run as the floor.
// It writes docs/BENCHMARKS.md. Run it with `make bench`.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials/endpointcreds"
	"github.com/gorilla/websocket"

	"github.com/airlockci/airlock/agent"
	agentid "github.com/airlockci/airlock/agent/identity"
	"github.com/airlockci/airlock/edge/scheduler"
	"github.com/airlockci/airlock/internal/devstack"
	"github.com/airlockci/airlock/internal/identity"
	"github.com/airlockci/airlock/internal/wire"
)

func main() {
	out := flag.String("out", "docs/BENCHMARKS.md", "report file")
	jobs := flag.Int("jobs", 250, "jobs in the dispatch chain")
	requests := flag.Int("requests", 400, "requests per API route")
	flag.Parse()
	if err := run(*out, *jobs, *requests); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(out string, jobs, requests int) error {
	root, _ := os.Getwd()
	state, err := os.MkdirTemp("", "airlock-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(state)
	cloud, err := devstack.StartCloud("bench")
	if err != nil {
		return err
	}
	defer cloud.Close()
	port, err := devstack.FreePort()
	if err != nil {
		return err
	}
	sso, err := devstack.StartIdentity(fmt.Sprintf("http://127.0.0.1:%d", port))
	if err != nil {
		return err
	}
	defer sso.Close()
	cp, err := devstack.Start(context.Background(), devstack.Options{
		Root: root, Port: port, StateDir: filepath.Join(state, "wrangler"), LogFile: filepath.Join(state, "wrangler.log"),
		Pools: cloud.Pools(), SSO: sso.SSO,
	})
	if err != nil {
		return err
	}
	defer cp.Stop()
	token, err := sso.SignInCLI(context.Background(), cp.URL, "alice")
	if err != nil {
		return err
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: bearer{token}}
	creds := endpointcreds.New(cloud.Credentials.URL(), func(o *endpointcreds.Options) { o.AuthorizationToken = cloud.Credentials.Token })
	prover := &agentid.AWS{Credentials: aws.NewCredentialsCache(creds), Endpoint: cloud.STSEndpoint(), Region: "us-east-1"}
	bn := &bencher{server: cp.URL, client: client, prover: prover}

	fmt.Println("dispatch: a chain of", jobs, "jobs, each runnable when the previous finishes")
	chain, submit, err := bn.dispatch(jobs)
	if err != nil {
		return err
	}
	fmt.Println("identity: first dial → first job, and admission rate")
	firstJob, err := bn.firstJob(40)
	if err != nil {
		return err
	}
	admitted, rate, err := bn.admissions(100, 8)
	if err != nil {
		return err
	}

	// A run to read back in the API benchmark.
	runID, err := submitRun(client, cp.URL, "steps:\n  - key: a\n    command: x\n    agents: {queue: nobody}\n")
	if err != nil {
		return err
	}
	routes := []struct{ name, path string }{
		{"plain JS in the Worker (floor)", "/v1/ping"},
		{"Go in the Scheduler object: GET /v1/healthz (no session)", "/v1/healthz"},
		{"Go in the Sessions object: GET /v1/me (session check)", "/v1/me"},
		{"Sessions → Scheduler: GET /v1/runs/{id} (session check + SQLite read)", "/v1/runs/" + runID},
	}
	fmt.Println("api:", requests, "requests per route, interleaved")
	lat := make([][]time.Duration, len(routes))
	for i := 0; i < 20; i++ { // warm-up
		for _, r := range routes {
			if _, err := get(client, cp.URL+r.path); err != nil {
				return err
			}
		}
	}
	for i := 0; i < requests; i++ {
		for k, r := range routes {
			d, err := get(client, cp.URL+r.path)
			if err != nil {
				return err
			}
			lat[k] = append(lat[k], d)
		}
	}

	fmt.Println("revocation: 8 requests of one session in flight while another session ends it, 5 rounds")
	var revs []devstack.Revocation
	for i := 0; i < 5; i++ {
		victim, err := sso.SignInCLI(context.Background(), cp.URL, "bob")
		if err != nil {
			return err
		}
		r, err := devstack.MeasureRevocation(context.Background(), cp.URL, victim, token, 8, 300*time.Millisecond, 300*time.Millisecond)
		if err != nil {
			return err
		}
		revs = append(revs, r)
	}

	var b strings.Builder
	fmt.Fprintf(&b, "# Benchmarks\n\nMeasured by `make bench` (`go run -tags e2e ./internal/e2e/bench`) on local workerd\n")
	fmt.Fprintf(&b, "(`wrangler dev`, the real edge Wasm build), %s.\n\n", time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "Machine: %s, %d cores, %s, %s, wrangler %s.\n\n", cpuModel(), runtime.NumCPU(), runtime.Version(), runtime.GOOS+"/"+runtime.GOARCH, wranglerVersion(root))
	fmt.Fprintf(&b, "## Dispatch latency\n\nFrom the moment a job becomes runnable to the moment its agent receives the\n")
	fmt.Fprintf(&b, "assignment over its WebSocket. A chain of %d jobs: the agent reports each job finished and\n", jobs)
	fmt.Fprintf(&b, "times until the next one arrives (one frame up, the scheduler's transaction, one frame down).\n")
	fmt.Fprintf(&b, "The second row times a new run: `POST /v1/runs` sent → first job received.\n\n")
	fmt.Fprintf(&b, "| measure | n | p50 | p99 | max |\n|---|---|---|---|---|\n")
	row(&b, "job finished → next job received", chain)
	row(&b, "POST /v1/runs sent → first job received", submit)
	fmt.Fprintf(&b, "\nTarget: p99 ≤ 15 ms.\n\n")
	fmt.Fprintf(&b, "## Agent admission (workload identity)\n\nAn agent's first dial to its first job: get a challenge, sign an\n")
	fmt.Fprintf(&b, "sts:GetCallerIdentity with credentials from the container-credentials endpoint, open the WebSocket (the\n")
	fmt.Fprintf(&b, "control plane sends the signed request to the local STS, which verifies the SigV4 signature), say hello,\n")
	fmt.Fprintf(&b, "receive the job that was waiting. Then %d agents connecting 8 at a time.\n\n", admitted)
	fmt.Fprintf(&b, "| measure | n | p50 | p99 | max |\n|---|---|---|---|---|\n")
	row(&b, "first dial → first job", firstJob)
	fmt.Fprintf(&b, "\nAdmission rate: %.0f agents/s (%d agents, 8 concurrent dials).\n\n", rate, admitted)
	fmt.Fprintf(&b, "## API request latency\n\nSequential requests from one client, the routes interleaved so they share the\n")
	fmt.Fprintf(&b, "machine's state; the plain-JS route never reaches Go or the Durable Object.\n\n")
	fmt.Fprintf(&b, "| route | n | p50 | p99 | max | p50 / floor |\n|---|---|---|---|---|---|\n")
	floor := pct(lat[0], 50)
	for k, r := range routes {
		fmt.Fprintf(&b, "| %s | %d | %s | %s | %s | %.2f× |\n", r.name, len(lat[k]), ms(pct(lat[k], 50)), ms(pct(lat[k], 99)), ms(pct(lat[k], 100)), float64(pct(lat[k], 50))/float64(floor))
	}
	fmt.Fprintf(&b, "\nTarget: API p50 ≤ 1.5× the plain-JS floor.\n")
	fmt.Fprintf(&b, "\n## Session revocation window\n\nEight requests of one CLI session (`GET /v1/me`) kept in flight while an admin's session ends it\n")
	fmt.Fprintf(&b, "(`DELETE /v1/sessions/{id}`); a request counts as *after* when it was sent after the revoke call returned.\n\n")
	fmt.Fprintf(&b, "| round | requests | accepted after the revoke | refused after | in flight at the revoke | revoke call | first refusal after it returned |\n|---|---|---|---|---|---|---|\n")
	for i, r := range revs {
		fmt.Fprintf(&b, "| %d | %d | **%d** | %d | %d | %s | %s |\n", i+1, r.Requests, r.AcceptedAfter, r.RefusedAfter, r.InFlight, ms(r.Revoke), ms(r.FirstRefusal))
	}
	fmt.Fprintf(&b, "\nTarget: zero requests accepted after the revoke call returns. The Sessions Durable Object is the\n")
	fmt.Fprintf(&b, "only place a session is checked, and it is strongly consistent: the revoke and every check are\n")
	fmt.Fprintf(&b, "serialised there, so the window is zero by construction, and this measures that it stays so.\n")

	// The agent's hot paths, as Go benchmarks in the same run: secret
	// masking throughput (every log byte passes through it) and step start
	// latency per runtime.
	for _, gb := range []struct{ title, target, pkg, pattern string }{
		{"Secret masking throughput", "≥ 200 MB/s on one core with 100 secrets and their encodings", "./agent/redact/", "BenchmarkRedact"},
		{"Step start latency", "a warm Wasm plugin step starts in ≤ 5 ms, at least 40× faster than a container", "./agent/runner/", "BenchmarkStepStart"},
	} {
		fmt.Println("go bench:", gb.pattern)
		out, err := goBench(gb.pkg, gb.pattern)
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "\n## %s\n\n`GOMAXPROCS=1 go test -run '^$' -bench %s -benchmem -count 5 %s`, medians of 5 runs.\n\n", gb.title, gb.pattern, gb.pkg)
		fmt.Fprintf(&b, "| benchmark | median | |\n|---|---|---|\n")
		for _, r := range out {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", r.name, r.primary, r.secondary)
		}
		fmt.Fprintf(&b, "\nTarget: %s.\n", gb.target)
	}
	fmt.Print(b.String())
	return os.WriteFile(out, []byte(b.String()), 0o644)
}

type goBenchRow struct{ name, primary, secondary string }

// goBench runs Go benchmarks five times on one core and returns each
// benchmark's median ns/op, and its median MB/s where it reports one.
func goBench(pkg, pattern string) ([]goBenchRow, error) {
	cmd := exec.Command("go", "test", "-run", "^$", "-bench", pattern, "-benchmem", "-count", "5", pkg)
	cmd.Env = append(os.Environ(), "GOMAXPROCS=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("go test -bench %s %s: %v\n%s", pattern, pkg, err, out)
	}
	type samples struct{ ns, mbs []float64 }
	byName := map[string]*samples{}
	var order []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		name := strings.TrimSuffix(f[0], "-1")
		sm := byName[name]
		if sm == nil {
			sm = &samples{}
			byName[name] = sm
			order = append(order, name)
		}
		for i := 2; i+1 < len(f); i += 2 {
			var v float64
			fmt.Sscanf(f[i], "%g", &v)
			switch f[i+1] {
			case "ns/op":
				sm.ns = append(sm.ns, v)
			case "MB/s":
				sm.mbs = append(sm.mbs, v)
			}
		}
	}
	median := func(xs []float64) float64 {
		sort.Float64s(xs)
		return xs[len(xs)/2]
	}
	var rows []goBenchRow
	for _, name := range order {
		sm := byName[name]
		if len(sm.ns) == 0 {
			continue
		}
		r := goBenchRow{name: name, primary: time.Duration(median(sm.ns)).String() + "/op"}
		if len(sm.mbs) > 0 {
			r.primary, r.secondary = fmt.Sprintf("%.0f MB/s", median(sm.mbs)), r.primary
		}
		rows = append(rows, r)
	}
	return rows, nil
}

func row(b *strings.Builder, name string, d []time.Duration) {
	fmt.Fprintf(b, "| %s | %d | %s | %s | %s |\n", name, len(d), ms(pct(d, 50)), ms(pct(d, 99)), ms(pct(d, 100)))
}

type bencher struct {
	server string
	client *http.Client
	prover *agentid.AWS
}

// connect proves the agent's identity and opens a bare protocol connection.
func (b *bencher) connect() (*websocket.Conn, error) {
	ch, err := agent.Challenge(context.Background(), b.server)
	if err != nil {
		return nil, err
	}
	p, err := b.prover.Prove(context.Background(), ch)
	if err != nil {
		return nil, err
	}
	h, err := identity.EncodeProof(p)
	if err != nil {
		return nil, err
	}
	ws := strings.Replace(b.server, "http", "ws", 1) + "/v1/agents/connect"
	c, resp, err := websocket.DefaultDialer.Dial(ws, http.Header{identity.ProofHeader: []string{h}})
	if err != nil {
		if resp != nil {
			body, _ := io.ReadAll(resp.Body)
			return nil, fmt.Errorf("dial: %s %s", resp.Status, body)
		}
		return nil, err
	}
	return c, nil
}

func hello(c *websocket.Conn, name string, tags map[string]string) error {
	f, err := wire.Encode(wire.Frame{Type: wire.THello, Hello: &wire.Hello{Name: name, Slots: 1, Tags: tags}})
	if err != nil {
		return err
	}
	return c.WriteMessage(websocket.BinaryMessage, f)
}

func nextFrame(c *websocket.Conn, want wire.Type) (wire.Frame, error) {
	for {
		_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, b, err := c.ReadMessage()
		if err != nil {
			return wire.Frame{}, err
		}
		f, err := wire.Decode(b)
		if err != nil {
			return wire.Frame{}, err
		}
		if f.Type == want {
			return f, nil
		}
	}
}

// firstJob times n agents from their first dial to their first job.
func (b *bencher) firstJob(n int) ([]time.Duration, error) {
	var out []time.Duration
	for i := 0; i < n; i++ {
		tag := fmt.Sprintf("first-%d", i)
		if _, err := submitRun(b.client, b.server, fmt.Sprintf("steps:\n  - key: a\n    command: x\n    agents: {bench: %s}\n", tag)); err != nil {
			return nil, err
		}
		start := time.Now()
		c, err := b.connect()
		if err != nil {
			return nil, err
		}
		if err := hello(c, tag, map[string]string{"bench": tag}); err != nil {
			return nil, err
		}
		if _, err := nextFrame(c, wire.TAssign); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
		c.Close()
	}
	return out, nil
}

// admissions connects n agents, conc at a time, each until its Welcome.
func (b *bencher) admissions(n, conc int) (int, float64, error) {
	start := time.Now()
	errs := make(chan error, n)
	sem := make(chan struct{}, conc)
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		go func(i int) {
			defer func() { <-sem }()
			c, err := b.connect()
			if err == nil {
				err = hello(c, fmt.Sprintf("admit-%d", i), nil)
			}
			if err == nil {
				_, err = nextFrame(c, wire.TWelcome)
			}
			if c != nil {
				c.Close()
			}
			errs <- err
		}(i)
	}
	for i := 0; i < n; i++ {
		if err := <-errs; err != nil {
			return 0, 0, err
		}
	}
	return n, float64(n) / time.Since(start).Seconds(), nil
}

// dispatch runs a chain of jobs through a bare protocol-speaking agent.
func (b *bencher) dispatch(n int) (chain, submit []time.Duration, err error) {
	server, client := b.server, b.client
	c, err := b.connect()
	if err != nil {
		return nil, nil, err
	}
	defer c.Close()
	send := func(f wire.Frame) error {
		b, err := wire.Encode(f)
		if err != nil {
			return err
		}
		return c.WriteMessage(websocket.BinaryMessage, b)
	}
	next := func(want wire.Type) (wire.Frame, error) { return nextFrame(c, want) }
	if err := send(wire.Frame{Type: wire.THello, Hello: &wire.Hello{Name: "bench", Slots: 1, Tags: map[string]string{"bench": "chain"}}}); err != nil {
		return nil, nil, err
	}
	if _, err := next(wire.TWelcome); err != nil {
		return nil, nil, err
	}
	var p strings.Builder
	p.WriteString("steps:\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&p, "  - key: j%d\n    command: x\n    agents: {bench: chain}\n", i)
		if i > 0 {
			fmt.Fprintf(&p, "    depends_on: j%d\n", i-1)
		}
	}
	for round := 0; round < 2; round++ {
		start := time.Now()
		if _, err := submitRun(client, server, p.String()); err != nil {
			return nil, nil, err
		}
		for i := 0; i < n; i++ {
			f, err := next(wire.TAssign)
			if err != nil {
				return nil, nil, fmt.Errorf("job %d: %w", i, err)
			}
			if i > 0 && round == 1 { // the first round warms everything up
				chain = append(chain, time.Since(start))
			}
			ref := f.Assign.JobRef
			if err := send(wire.Frame{Type: wire.TAccept, Accept: &ref}); err != nil {
				return nil, nil, err
			}
			start = time.Now()
			if err := send(wire.Frame{Type: wire.TFinished, Finished: &wire.Finished{JobRef: ref}}); err != nil {
				return nil, nil, err
			}
		}
	}
	// Submit → first job, for a one-step run.
	for i := 0; i < 200; i++ {
		start := time.Now()
		if _, err := submitRun(client, server, "steps:\n  - key: one\n    command: x\n    agents: {bench: chain}\n"); err != nil {
			return nil, nil, err
		}
		f, err := next(wire.TAssign)
		if err != nil {
			return nil, nil, err
		}
		submit = append(submit, time.Since(start))
		ref := f.Assign.JobRef
		_ = send(wire.Frame{Type: wire.TAccept, Accept: &ref})
		_ = send(wire.Frame{Type: wire.TFinished, Finished: &wire.Finished{JobRef: ref}})
	}
	return chain, submit, nil
}

// bearer sends the CLI session with every request, as the CLI does.
type bearer struct{ token string }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return http.DefaultTransport.RoundTrip(r)
}

func submitRun(client *http.Client, server, yaml string) (string, error) {
	body, _ := json.Marshal(scheduler.SubmitRequest{Pipeline: yaml})
	resp, err := client.Post(server+"/v1/runs", "application/json", bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		return "", fmt.Errorf("submit: %s %s", resp.Status, data)
	}
	var v scheduler.RunView
	return v.ID, json.Unmarshal(data, &v)
}

func get(client *http.Client, url string) (time.Duration, error) {
	start := time.Now()
	resp, err := client.Get(url)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return d, nil
}

func pct(d []time.Duration, p int) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	if len(s) == 0 {
		return 0
	}
	i := (len(s)*p + 99) / 100
	if i > 0 {
		i--
	}
	return s[i]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d.Microseconds())/1000) }

func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(line, "model name") {
			return strings.TrimSpace(line[strings.Index(line, ":")+1:])
		}
	}
	return "unknown CPU"
}

func wranglerVersion(root string) string {
	data, err := os.ReadFile(filepath.Join(root, "node_modules/wrangler/package.json"))
	if err != nil {
		return "?"
	}
	var p struct{ Version string }
	_ = json.Unmarshal(data, &p)
	return p.Version
}
