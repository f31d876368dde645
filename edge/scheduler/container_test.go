package scheduler

import (
	"reflect"
	"testing"

	"github.com/airlockci/airlock/internal/wire"
)

// TestContainerStepReachesAgent: a step's image (Airlock's `image:` or
// Buildkite's docker plugin) is stored with the job and sent in Assign.
func TestContainerStepReachesAgent(t *testing.T) {
	w := newWorld(t)
	w.submit(`
steps:
  - key: image
    command: go test ./...
    image: golang:1.26
  - key: docker
    command: make
    plugins:
      - docker#v5.12.0:
          image: alpine:3.20
          workdir: /app
          entrypoint: /bin/sh
          environment: [A=1, B]
  - key: host
    command: "true"
`)
	w.boot() // the spec survives a restart: it is read back from storage
	conn := w.agent("a", 3, nil)
	got := map[string]*wire.Container{}
	for _, j := range w.assigned(conn) {
		got[j.Key] = j.Container
	}
	want := map[string]*wire.Container{
		"image":  {Image: "golang:1.26"},
		"docker": {Image: "alpine:3.20", Workdir: "/app", Entrypoint: "/bin/sh", Environment: []string{"A=1", "B"}},
		"host":   nil,
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got containers %+v, want %+v", got, want)
	}
}
