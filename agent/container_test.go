package agent

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/airlockci/airlock/agent/runner"
	"github.com/airlockci/airlock/agent/secrets"
	"github.com/airlockci/airlock/internal/wire"
)

// A container step on an agent whose engine is missing fails with an error
// naming the socket; on an agent with no container runner at all, it says so.
func TestRunStepContainerWithoutEngine(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "docker.sock")
	spec := &wire.Job{JobRef: wire.JobRef{ID: "j1", Attempt: 1}, Key: "build", Commands: []string{"make"},
		Container: &wire.Container{Image: "golang:1.26"}}
	var log bytes.Buffer
	res := RunStep(context.Background(), &runner.Shell{}, nil, &runner.Container{Host: "unix://" + sock}, spec, t.TempDir(), &log, nil)
	if res.ExitStatus != -1 || !strings.Contains(res.Reason, "no container engine at unix://"+sock) {
		t.Errorf("got %+v, want a failure naming %s", res, sock)
	}
	if !strings.Contains(log.String(), sock) {
		t.Errorf("got log %q, want it to name the socket", log.String())
	}

	log.Reset()
	res = RunStep(context.Background(), &runner.Shell{}, nil, nil, spec, t.TempDir(), &log, nil)
	if res.ExitStatus != -1 || res.Reason != "no container engine on this agent" || !strings.Contains(log.String(), "golang:1.26") {
		t.Errorf("got %+v, log %q; want the step refused, naming its image", res, log.String())
	}
}

// TestRunStepContainer runs a container step the way the agent does: the
// job's env, Airlock's variables and resolved secrets reach the container.
func TestRunStepContainer(t *testing.T) {
	host := os.Getenv("AIRLOCK_TEST_DOCKER_HOST")
	if host == "" {
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but AIRLOCK_TEST_DOCKER_HOST is not: container steps must be tested on a real engine in CI (.ci/podman-setup)")
		}
		t.Skip("skipped: no container engine; start one with .ci/podman-setup and set AIRLOCK_TEST_DOCKER_HOST=unix:///run/airlock-podman.sock")
	}
	image := os.Getenv("AIRLOCK_TEST_IMAGE")
	if image == "" {
		image = "localhost/airlock-test:latest"
	}
	spec := &wire.Job{JobRef: wire.JobRef{ID: "job-container-1", Attempt: 2}, Key: "build",
		Env:       []wire.EnvVar{{Name: "GREETING", Value: "hello there"}},
		Commands:  []string{`echo "$GREETING $AIRLOCK_STEP_KEY $AIRLOCK_ATTEMPT $TOKEN $(pwd)"`},
		Container: &wire.Container{Image: image}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var log bytes.Buffer
	res := RunStep(ctx, &runner.Shell{}, nil, &runner.Container{Host: host}, spec, t.TempDir(), &log,
		[]secrets.Secret{{Env: "TOKEN", Ref: "env://TOKEN", Value: "s3cret"}})
	if res.ExitStatus != 0 || res.Reason != "" {
		t.Fatalf("got %+v; log %q", res, log.String())
	}
	if got, want := log.String(), "hello there build 2 s3cret /workspace\n"; got != want {
		t.Errorf("got log %q, want %q", got, want)
	}
}
