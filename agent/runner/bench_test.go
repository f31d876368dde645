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
// process. Run with: go test -run '^$' -bench StepStart ./agent/runner/
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
}
