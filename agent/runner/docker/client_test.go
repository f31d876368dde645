package docker

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// fakeEngine serves the image endpoints of the Engine API on a real unix
// socket and records the requests, so the client's calls round-trip
// through net/http as they do against dockerd.
type fakeEngine struct {
	mu       sync.Mutex
	calls    []string
	images   map[string]bool
	pullBody string // what POST /images/create streams back
}

func startFake(t *testing.T, f *fakeEngine) *Client {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "engine.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: f}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	c, err := New("unix://" + sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func (f *fakeEngine) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.calls = append(f.calls, r.Method+" "+r.URL.RequestURI())
	f.mu.Unlock()
	switch {
	case r.URL.Path == "/version":
		fmt.Fprint(w, `{"Version":"4.3.1","ApiVersion":"1.41","MinAPIVersion":"1.24"}`)
	case r.Method == http.MethodGet && strings.HasPrefix(r.URL.Path, "/v1.41/images/") && strings.HasSuffix(r.URL.Path, "/json"):
		name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v1.41/images/"), "/json")
		if !f.images[name] {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"message":"No such image: %s"}`, name)
			return
		}
		fmt.Fprint(w, `{"Id":"sha256:abc"}`)
	case r.Method == http.MethodPost && r.URL.Path == "/v1.41/images/create":
		fmt.Fprint(w, f.pullBody)
	default:
		w.WriteHeader(http.StatusNotFound)
		fmt.Fprint(w, `{"message":"page not found"}`)
	}
}

func TestImagePullOnlyIfAbsent(t *testing.T) {
	f := &fakeEngine{images: map[string]bool{"alpine:3.20": true},
		pullBody: `{"status":"Pulling from library/busybox","id":"latest"}` + "\n" +
			`{"status":"Downloading","id":"abc"}` + "\n" + `{"status":"Downloading","id":"abc"}` + "\n" +
			`{"status":"Status: Downloaded newer image for busybox:latest"}` + "\n"}
	c := startFake(t, f)
	ctx := context.Background()

	ok, err := c.ImageExists(ctx, "alpine:3.20")
	if err != nil || !ok {
		t.Fatalf("ImageExists(alpine:3.20): got %v, %v; want true", ok, err)
	}
	ok, err = c.ImageExists(ctx, "docker.io/library/busybox")
	if err != nil || ok {
		t.Fatalf("ImageExists(busybox): got %v, %v; want false", ok, err)
	}
	var progress []string
	if err := c.ImagePull(ctx, "docker.io/library/busybox", func(s string) { progress = append(progress, s) }); err != nil {
		t.Fatalf("ImagePull: %v", err)
	}
	want := []string{
		"GET /version",
		"GET /v1.41/images/alpine:3.20/json",
		"GET /v1.41/images/docker.io/library/busybox/json",
		"POST /v1.41/images/create?fromImage=docker.io%2Flibrary%2Fbusybox&tag=latest",
	}
	if got := strings.Join(f.calls, "\n"); got != strings.Join(want, "\n") {
		t.Errorf("got calls:\n%s\nwant:\n%s", got, strings.Join(want, "\n"))
	}
	wantProgress := "latest: Pulling from library/busybox|abc: Downloading|Status: Downloaded newer image for busybox:latest"
	if got := strings.Join(progress, "|"); got != wantProgress {
		t.Errorf("got progress %q, want %q (repeats dropped)", got, wantProgress)
	}
}

// TestImagePullErrorInStream: engines report a failed pull inside a 200
// answer.
func TestImagePullErrorInStream(t *testing.T) {
	f := &fakeEngine{pullBody: `{"status":"Trying to pull registry.example/x:1..."}` + "\n" +
		`{"error":"dial tcp: lookup registry.example: no such host","errorDetail":{"message":"dial tcp: lookup registry.example: no such host"}}` + "\n"}
	c := startFake(t, f)
	err := c.ImagePull(context.Background(), "registry.example/x:1", nil)
	if err == nil || !strings.Contains(err.Error(), "no such host") {
		t.Errorf("got %v, want the stream's error", err)
	}
}

func TestAPIErrorNotFound(t *testing.T) {
	c := startFake(t, &fakeEngine{})
	err := c.ContainerStart(context.Background(), "nope")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 404 || ae.Message != "page not found" || !errors.Is(err, ErrNotFound) {
		t.Errorf("got %#v, want *APIError 404 \"page not found\" matching ErrNotFound", err)
	}
	if err := c.ContainerRemove(context.Background(), "nope"); err != nil {
		t.Errorf("ContainerRemove of a missing container: got %v, want nil", err)
	}
}

func TestSplitRef(t *testing.T) {
	for _, tt := range []struct{ ref, name, tag string }{
		{"alpine", "alpine", "latest"},
		{"alpine:3.20", "alpine", "3.20"},
		{"localhost:5000/team/app", "localhost:5000/team/app", "latest"},
		{"localhost:5000/team/app:v1", "localhost:5000/team/app", "v1"},
		{"alpine@sha256:0123", "alpine@sha256:0123", ""},
		{"alpine:3@sha256:0123", "alpine:3@sha256:0123", ""},
	} {
		name, tag := SplitRef(tt.ref)
		if name != tt.name || tag != tt.tag {
			t.Errorf("SplitRef(%q): got %q, %q; want %q, %q", tt.ref, name, tag, tt.name, tt.tag)
		}
	}
}

func TestNewHost(t *testing.T) {
	for _, tt := range []struct {
		host string
		ok   bool
	}{
		{"unix:///var/run/docker.sock", true},
		{"/run/podman.sock", true},
		{"unix://relative.sock", false},
		{"tcp://127.0.0.1:2375", false},
		{"", false},
	} {
		_, err := New(tt.host)
		if (err == nil) != tt.ok {
			t.Errorf("New(%q): got %v, want ok=%v", tt.host, err, tt.ok)
		}
	}
}

func frame(stream byte, payload string) []byte {
	b := make([]byte, 8+len(payload))
	b[0] = stream
	binary.BigEndian.PutUint32(b[4:], uint32(len(payload)))
	copy(b[8:], payload)
	return b
}

func TestDemux(t *testing.T) {
	var in []byte
	in = append(in, frame(1, "out 1\n")...)
	in = append(in, frame(2, "err 1\n")...)
	in = append(in, frame(1, "")...)
	in = append(in, frame(1, strings.Repeat("x", 70000))...)
	var out bytes.Buffer
	if err := Demux(&out, bytes.NewReader(in)); err != nil {
		t.Fatalf("Demux: %v", err)
	}
	if want := "out 1\nerr 1\n" + strings.Repeat("x", 70000); out.String() != want {
		t.Errorf("got %d bytes %.30q…, want %d bytes", out.Len(), out.String(), len(want))
	}

	for _, tt := range []struct {
		name string
		in   []byte
	}{
		{"bad stream", frame(7, "x")},
		{"bad padding", []byte{1, 1, 0, 0, 0, 0, 0, 1, 'x'}},
		{"short header", []byte{1, 0, 0}},
		{"short payload", frame(1, "hello")[:10]},
	} {
		if err := Demux(&out, bytes.NewReader(tt.in)); err == nil {
			t.Errorf("%s: got nil, want an error", tt.name)
		}
	}
}

// errWriter fails every write.
type errWriter struct{ n int }

func (w *errWriter) Write(p []byte) (int, error) { w.n++; return 0, errors.New("log closed") }

// TestDemuxKeepsReading: after the log fails, the stream is still read to
// its end so the container never blocks on it.
func TestDemuxKeepsReading(t *testing.T) {
	in := append(frame(1, "a"), frame(1, "b")...)
	r := bytes.NewReader(in)
	w := &errWriter{}
	if err := Demux(w, r); err == nil || r.Len() != 0 || w.n != 1 {
		t.Errorf("got %v with %d bytes unread and %d writes; want the write error, all read, 1 write", err, r.Len(), w.n)
	}
}

func FuzzDemux(f *testing.F) {
	f.Add(frame(1, "hello"))
	f.Add(append(frame(2, "e"), 1, 0, 0))
	f.Fuzz(func(t *testing.T, in []byte) {
		var out bytes.Buffer
		_ = Demux(&out, bytes.NewReader(in))
		if out.Len() > len(in) {
			t.Errorf("wrote %d bytes from %d", out.Len(), len(in))
		}
	})
}
