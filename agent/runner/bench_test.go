package runner

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/airlockci/airlock/internal/wire"
)

// BenchmarkStepStart measures how long a trivial step takes from Run to
// its result: a warm Wasm plugin (compiled, cached) against a shell
// process and a container (image present; create, attach, start, wait,
// remove). Run with: go test -run '^$' -bench StepStart ./agent/runner/
// (the container case needs AIRLOCK_TEST_DOCKER_HOST; see .ci/podman-setup).
func BenchmarkStepStart(b *testing.B) {
	b.Run("wasm-warm", func(b *testing.B) {
		w, step := warmPluginStep(b, 0)
		for b.Loop() {
			mustRun(b, w, step)
		}
	})
	b.Run("shell", func(b *testing.B) {
		s := &Shell{}
		step := Step{Dir: b.TempDir(), Commands: []string{"true"}}
		for b.Loop() {
			mustRun(b, s, step)
		}
	})
	b.Run("container", func(b *testing.B) {
		c := testEngine(b)
		step := Step{Dir: b.TempDir(), Commands: []string{"true"}, Container: &wire.Container{Image: testImage()}, Job: "bench"}
		mustRun(b, c, step) // warm-up
		b.ResetTimer()
		for b.Loop() {
			mustRun(b, c, step)
		}
	})
}

// warmPluginStep returns a Wasm runner (spares as SparesPerModule) that has
// already run the trivial test plugin step it returns once, so the module is
// compiled and cached.
func warmPluginStep(b *testing.B, spares int) (*Wasm, Step) {
	b.Helper()
	mod := wasmModule(b, "./testdata/testplugin")
	w := &Wasm{PluginPath: []string{filepath.Dir(mod)}, CacheDir: sharedCacheDir(b), SparesPerModule: spares}
	b.Cleanup(func() { w.Close(context.Background()) })
	step := Step{Dir: b.TempDir(), Plugin: &wire.Plugin{Module: "testplugin.wasm", Function: "noop"}}
	mustRun(b, w, step)
	b.ResetTimer()
	return w, step
}

// mustRun runs a step that must pass.
func mustRun(b *testing.B, r Runner, step Step) {
	b.Helper()
	if res, err := r.Run(context.Background(), step, io.Discard); err != nil || res.ExitStatus != 0 {
		b.Fatalf("%+v, %v", res, err)
	}
}
