package main

import (
	"bytes"
	"compress/gzip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// sizeBudget is the compressed size the edge binary must stay under: the
// Workers free plan's 3 MB limit, with room left for the shim.
const sizeBudget = 2_800_000

// banned packages must never reach the js/wasm edge binary: they are big,
// or they belong to the agent (which runs plugins and talks to clouds).
var banned = []string{
	"github.com/tetratelabs/wazero",
	"github.com/extism/",
	"github.com/gorilla/websocket",
	"github.com/ncruces/",
	"github.com/aws/",
	"github.com/santhosh-tekuri/jsonschema",
	"github.com/airlockci/airlock/agent",
	"net/http",
}

func TestEdgeDependencies(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps", ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, b := range banned {
			if pkg == b || strings.HasPrefix(pkg, b) {
				t.Errorf("the edge binary imports %s (banned: %s)", pkg, b)
			}
		}
	}
}

func TestEdgeSize(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the edge binary; skipped with -short")
	}
	bin := filepath.Join(t.TempDir(), "airlock.wasm")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	var z bytes.Buffer
	w, _ := gzip.NewWriterLevel(&z, gzip.BestCompression)
	w.Write(raw)
	w.Close()
	t.Logf("edge binary: %d bytes, %d gzipped (budget %d)", len(raw), z.Len(), sizeBudget)
	if z.Len() > sizeBudget {
		t.Fatalf("edge binary is %d bytes gzipped, over the budget of %d", z.Len(), sizeBudget)
	}
}
