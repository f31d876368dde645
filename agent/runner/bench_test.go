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
	ctx := context.Background()
	b.Run("wasm-warm", func(b *testing.B) {
		mod := wasmModule(b, "./testdata/testplugin")
		w := &Wasm{PluginPath: []string{filepath.Dir(mod)}, CacheDir: sharedCacheDir(b)}
		defer w.Close(ctx)
		step := Step{Dir: b.TempDir(), Plugin: &wire.Plugin{Module: "testplugin.wasm", Function: "noop"}}
		if res, err := w.Run(ctx, step, io.Discard); err != nil || res.ExitStatus != 0 {
			b.Fatalf("warm-up: %+v, %v", res, err)
		}
		b.ResetTimer()
		for b.Loop() {
			if res, err := w.Run(ctx, step, io.Discard); err != nil || res.ExitStatus != 0 {
				b.Fatalf("%+v, %v", res, err)
			}
		}
	})
	b.Run("shell", func(b *testing.B) {
		s := &Shell{}
		step := Step{Dir: b.TempDir(), Commands: []string{"true"}}
		for b.Loop() {
			if res, err := s.Run(ctx, step, io.Discard); err != nil || res.ExitStatus != 0 {
				b.Fatalf("%+v, %v", res, err)
			}
		}
	})
	b.Run("container", func(b *testing.B) {
		c := testEngine(b)
		step := Step{Dir: b.TempDir(), Commands: []string{"true"}, Container: &wire.Container{Image: testImage()}, Job: "bench"}
		if res, err := c.Run(ctx, step, io.Discard); err != nil || res.ExitStatus != 0 {
			b.Fatalf("warm-up: %+v, %v", res, err)
		}
		b.ResetTimer()
		for b.Loop() {
			if res, err := c.Run(ctx, step, io.Discard); err != nil || res.ExitStatus != 0 {
				b.Fatalf("%+v, %v", res, err)
			}
		}
	})
}
