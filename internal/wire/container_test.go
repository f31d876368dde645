package wire

import (
	"reflect"
	"testing"
)

func TestAssignContainerRoundTrip(t *testing.T) {
	job := &Job{JobRef: JobRef{ID: "j1", Attempt: 1}, RunID: "r1", Key: "test", Commands: []string{"make"},
		Container: &Container{Image: "golang:1.26", Entrypoint: "/bin/bash", Command: []string{"a", "b"}, Workdir: "/app", Environment: []string{"A=1", "B"}}}
	b, err := Encode(Frame{Type: TAssign, Assign: job})
	if err != nil {
		t.Fatal(err)
	}
	f, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(f.Assign, job) {
		t.Errorf("got %+v, want %+v", f.Assign.Container, job.Container)
	}
}
