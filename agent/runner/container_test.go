package runner

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/airlockci/airlock/internal/wire"
)

// Container tests run real containers. They need a Docker Engine API:
// .ci/podman-setup starts podman's on /run/airlock-podman.sock with the
// test image localhost/airlock-test:latest (busybox, no registry needed).

// testImage is a local image with busybox; nothing is pulled for it.
func testImage() string {
	if s := os.Getenv("AIRLOCK_TEST_IMAGE"); s != "" {
		return s
	}
	return "localhost/airlock-test:latest"
}

// testEngine returns a Container runner on the test engine, or skips the
// test when none is configured outside CI. In CI a missing engine fails.
func testEngine(t testing.TB) *Container {
	t.Helper()
	host := os.Getenv("AIRLOCK_TEST_DOCKER_HOST")
	if host == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but AIRLOCK_TEST_DOCKER_HOST is not: container steps must be tested on a real engine in CI (run .ci/podman-setup and export AIRLOCK_TEST_DOCKER_HOST)")
		}
		t.Skip("skipped: no container engine; start one with .ci/podman-setup and set AIRLOCK_TEST_DOCKER_HOST=unix:///run/airlock-podman.sock")
	}
	c := &Container{Host: host, Grace: time.Second}
	cl, err := c.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := cl.Ping(ctx); err != nil {
		t.Fatalf("AIRLOCK_TEST_DOCKER_HOST=%s does not answer: %v", host, err)
	}
	if ok, err := cl.ImageExists(ctx, testImage()); err != nil || !ok {
		t.Fatalf("test image %s is not on the engine (%v); .ci/podman-setup imports it", testImage(), err)
	}
	return c
}

// jobID is unique per test, so its containers can be listed by label.
func jobID(t testing.TB) string {
	return fmt.Sprintf("test-%s-%d", strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()), time.Now().UnixNano())
}

// assertNoContainers fails if any container of job is left on the engine.
func assertNoContainers(t *testing.T, c *Container, job string) {
	t.Helper()
	cl, _ := c.Client()
	list, err := cl.ContainerList(context.Background(), LabelJob+"="+job)
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	if len(list) != 0 {
		t.Errorf("got %d containers left for job %s (%+v), want none", len(list), job, list)
	}
}

// markerLog is a log that tests can read while the step writes it, and
// that signals when a given text has appeared.
type markerLog struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	marker string
	seen   chan struct{}
	once   sync.Once
}

func newMarkerLog(marker string) *markerLog {
	return &markerLog{marker: marker, seen: make(chan struct{})}
}

func (b *markerLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.marker != "" && strings.Contains(b.buf.String(), b.marker) {
		b.once.Do(func() { close(b.seen) })
	}
	return len(p), nil
}

func (b *markerLog) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func containerStep(t *testing.T, commands ...string) Step {
	return Step{
		Dir:       t.TempDir(),
		Commands:  commands,
		Container: &wire.Container{Image: testImage()},
		Job:       jobID(t),
	}
}

func TestContainerExitStatus(t *testing.T) {
	c := testEngine(t)
	tests := []struct {
		name     string
		commands []string
		want     int
		wantLog  string
	}{
		{"pass", []string{"echo hello"}, 0, "hello\n"},
		{"exit code", []string{"echo out; echo err >&2; exit 3"}, 3, "out\nerr\n"},
		{"first failure ends the step", []string{"false", "echo not reached"}, 1, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			step := containerStep(t, tt.commands...)
			var log bytes.Buffer
			res, err := c.Run(context.Background(), step, &log)
			if err != nil {
				t.Fatalf("Run: %v (log %q)", err, log.String())
			}
			if res.ExitStatus != tt.want || res.Reason != "" {
				t.Errorf("got %+v, want exit status %d", res, tt.want)
			}
			if log.String() != tt.wantLog {
				t.Errorf("got log %q, want %q", log.String(), tt.wantLog)
			}
			assertNoContainers(t, c, step.Job)
		})
	}
}

// TestContainerStreamsOutput checks the first line reaches the log while
// the container still runs: it then blocks on a fifo in the workspace that
// the test writes only after seeing that line.
func TestContainerStreamsOutput(t *testing.T) {
	c := testEngine(t)
	step := containerStep(t, "echo first", "read x < fifo", `echo "second $x"`)
	fifo := filepath.Join(step.Dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o666); err != nil {
		t.Fatal(err)
	}
	log := newMarkerLog("first\n")
	type ran struct {
		res Result
		err error
	}
	done := make(chan ran, 1)
	go func() {
		res, err := c.Run(context.Background(), step, log)
		done <- ran{res, err}
	}()
	select {
	case <-log.seen:
	case r := <-done:
		t.Fatalf("step ended (%+v, %v) before its first line was seen; log %q", r.res, r.err, log.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("no first line after 60 s; log %q", log.String())
	}
	f, err := os.OpenFile(fifo, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, "go")
	f.Close()
	r := <-done
	if r.err != nil || r.res.ExitStatus != 0 {
		t.Fatalf("got %+v, %v; log %q", r.res, r.err, log.String())
	}
	if got, want := log.String(), "first\nsecond go\n"; got != want {
		t.Errorf("got log %q, want %q", got, want)
	}
}

func TestContainerEnv(t *testing.T) {
	c := testEngine(t)
	t.Setenv("AIRLOCK_TEST_AGENT_ONLY", "agent secret")
	t.Setenv("AIRLOCK_TEST_PASSED", "from the agent")
	want := map[string]string{
		"SPACES":   "  two  spaces  ",
		"NEWLINES": "line one\nline two\n",
		"EQUALS":   "a=b=c",
		"EMPTY":    "",
		"QUOTES":   `it's "quoted" $HOME`,
		"OVERRIDE": "from environment", // `environment: [OVERRIDE=…]` wins over the step env
		"LITERAL":  "x",                // a bare name already in the step env keeps its value
		// A bare name not in the step env takes the agent's value.
		"AIRLOCK_TEST_PASSED": "from the agent",
		// The agent's own environment is not passed otherwise.
		"AIRLOCK_TEST_AGENT_ONLY": "unset",
	}
	step := containerStep(t)
	step.Env = []string{"SPACES=" + want["SPACES"], "NEWLINES=" + want["NEWLINES"], "EQUALS=a=b=c",
		"EMPTY=", "QUOTES=" + want["QUOTES"], "OVERRIDE=from step", "LITERAL=x"}
	step.Container.Environment = []string{"OVERRIDE=from environment", "LITERAL", "AIRLOCK_TEST_PASSED"}
	for name := range want {
		step.Commands = append(step.Commands, fmt.Sprintf(`printf '%%s' "${%s-unset}" > %s.out`, name, name))
	}
	var log bytes.Buffer
	res, err := c.Run(context.Background(), step, &log)
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("got %+v, %v; log %q", res, err, log.String())
	}
	for name, v := range want {
		got, err := os.ReadFile(filepath.Join(step.Dir, name+".out"))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if string(got) != v {
			t.Errorf("%s: got %q, want %q", name, got, v)
		}
	}
}

func TestContainerWorkspace(t *testing.T) {
	c := testEngine(t)
	for _, workdir := range []string{"", "/src"} {
		t.Run("workdir="+workdir, func(t *testing.T) {
			step := containerStep(t, "pwd > pwd.out", "cat in.txt > copied.txt", "echo made inside > inside.txt")
			step.Container.Workdir = workdir
			if err := os.WriteFile(filepath.Join(step.Dir, "in.txt"), []byte("from the host\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			var log bytes.Buffer
			res, err := c.Run(context.Background(), step, &log)
			if err != nil || res.ExitStatus != 0 {
				t.Fatalf("got %+v, %v; log %q", res, err, log.String())
			}
			wantDir := workdir
			if wantDir == "" {
				wantDir = DefaultWorkdir
			}
			for file, want := range map[string]string{"pwd.out": wantDir + "\n", "copied.txt": "from the host\n", "inside.txt": "made inside\n"} {
				got, err := os.ReadFile(filepath.Join(step.Dir, file))
				if err != nil || string(got) != want {
					t.Errorf("%s: got %q (%v), want %q", file, got, err, want)
				}
			}
		})
	}
}

func TestContainerEntrypoint(t *testing.T) {
	c := testEngine(t)
	step := containerStep(t, "hello", "two words")
	step.Container.Entrypoint = "/bin/echo"
	var log bytes.Buffer
	res, err := c.Run(context.Background(), step, &log)
	if err != nil || res.ExitStatus != 0 {
		t.Fatalf("got %+v, %v; log %q", res, err, log.String())
	}
	if got, want := log.String(), "hello two words\n"; got != want {
		t.Errorf("got log %q, want %q (each command one argument of the entrypoint)", got, want)
	}

	step = containerStep(t)
	step.Container.Command = []string{"/bin/sh", "-c", "echo from command"}
	log.Reset()
	res, err = c.Run(context.Background(), step, &log)
	if err != nil || res.ExitStatus != 0 || log.String() != "from command\n" {
		t.Errorf("command: got %+v, %v, log %q; want exit 0, log %q", res, err, log.String(), "from command\n")
	}
}

func TestContainerTimeout(t *testing.T) {
	c := testEngine(t)
	step := containerStep(t, "echo started", "sleep 900")
	step.Timeout = 2 * time.Second
	var log bytes.Buffer
	start := time.Now()
	res, err := c.Run(context.Background(), step, &log)
	elapsed := time.Since(start)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.ExitStatus != -1 || res.Reason != ReasonTimedOut {
		t.Errorf("got %+v, want exit -1, %q", res, ReasonTimedOut)
	}
	if elapsed > 30*time.Second {
		t.Errorf("took %s for a 2 s timeout and a 1 s grace", elapsed)
	}
	if !strings.Contains(log.String(), "started\n") {
		t.Errorf("got log %q, want the output before the timeout", log.String())
	}
	assertNoContainers(t, c, step.Job)
}

func TestContainerCancel(t *testing.T) {
	c := testEngine(t)
	step := containerStep(t, "echo started", "sleep 900")
	log := newMarkerLog("started\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		<-log.seen
		cancel()
	}()
	res, err := c.Run(ctx, step, log)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	if res.ExitStatus != -1 || res.Reason != ReasonCancelled {
		t.Errorf("got %+v, want exit -1, %q", res, ReasonCancelled)
	}
	assertNoContainers(t, c, step.Job)
}

// TestContainerMissingImage: the image is not on the engine and no registry
// is reachable, so the pull fails; the step could not start.
func TestContainerMissingImage(t *testing.T) {
	c := testEngine(t)
	step := containerStep(t, "true")
	step.Container.Image = "localhost:1/airlock-no-such-image:latest"
	var log bytes.Buffer
	res, err := c.Run(context.Background(), step, &log)
	if err == nil {
		t.Fatalf("got %+v, no error; want the pull to fail", res)
	}
	if want := "image localhost:1/airlock-no-such-image:latest is not on this machine and pulling it failed"; !strings.Contains(err.Error(), want) {
		t.Errorf("got error %q, want it to contain %q", err, want)
	}
	if res.ExitStatus != -1 {
		t.Errorf("got exit status %d, want -1", res.ExitStatus)
	}
	if !strings.Contains(log.String(), "pulling image localhost:1/airlock-no-such-image:latest") {
		t.Errorf("got log %q, want it to say it pulls", log.String())
	}
	assertNoContainers(t, c, step.Job)
}

// TestContainerNoEngine needs no engine: the error names the socket.
func TestContainerNoEngine(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	c := &Container{Host: "unix://" + sock}
	step := Step{Dir: t.TempDir(), Commands: []string{"true"}, Container: &wire.Container{Image: "alpine"}}
	_, err := c.Run(context.Background(), step, &bytes.Buffer{})
	if err == nil || !strings.Contains(err.Error(), "no container engine at unix://"+sock) {
		t.Errorf("got %v, want an error naming %s", err, sock)
	}
}

func TestContainerBadSteps(t *testing.T) {
	c := &Container{Host: "unix:///nonexistent.sock"}
	for _, tt := range []struct {
		name string
		step Step
		want string
	}{
		{"no image", Step{Commands: []string{"true"}}, "step has no image"},
		{"empty image", Step{Commands: []string{"true"}, Container: &wire.Container{}}, "empty image"},
		{"no commands", Step{Container: &wire.Container{Image: "alpine"}}, "step has no commands"},
		{"plugin", Step{Plugin: &wire.Plugin{Module: "x"}, Container: &wire.Container{Image: "alpine"}}, "plugin step"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			res, err := c.Run(context.Background(), tt.step, &bytes.Buffer{})
			if err == nil || !strings.Contains(err.Error(), tt.want) || res.ExitStatus != -1 {
				t.Errorf("got %+v, %v; want an error containing %q", res, err, tt.want)
			}
		})
	}
	if _, err := (&Container{Host: "tcp://127.0.0.1:2375"}).Client(); err == nil {
		t.Errorf("tcp host: got no error, want only unix sockets")
	}
}

func TestContainerEnvMerge(t *testing.T) {
	t.Setenv("AIRLOCK_TEST_HOSTVAR", "h")
	got := containerEnv(
		[]string{"A=1", "B=2", "A=3"},
		[]string{"B=22", "C=x=y", "A", "AIRLOCK_TEST_HOSTVAR", "AIRLOCK_TEST_UNSET_VAR"})
	want := []string{"A=3", "B=22", "C=x=y", "AIRLOCK_TEST_HOSTVAR=h"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("got %q, want %q", got, want)
	}
}
