package runner

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/airlockci/airlock/internal/wire"
)

// BenchmarkStepStartPooled measures a warm plugin step that starts on a
// spare instance: the same plugin and step as BenchmarkStepStart's
// wasm-warm, with the timer stopped while the pool makes the next spare,
// as it would between an agent's steps. Run with:
//
//	go test -run '^$' -bench 'StepStart' ./agent/runner/
func BenchmarkStepStartPooled(b *testing.B) {
	ctx := context.Background()
	b.Run("wasm-pooled", func(b *testing.B) {
		mod := wasmModule(b, "./testdata/testplugin")
		w := &Wasm{PluginPath: []string{filepath.Dir(mod)}, CacheDir: sharedCacheDir(b)}
		defer w.Close(ctx)
		step := Step{Dir: b.TempDir(), Plugin: &wire.Plugin{Module: "testplugin.wasm", Function: "noop"}}
		if res, err := w.Run(ctx, step, io.Discard); err != nil || res.ExitStatus != 0 {
			b.Fatalf("warm-up: %+v, %v", res, err)
		}
		claimed := w.pool.claimed.Load()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			w.pool.wait()
			b.StartTimer()
			if res, err := w.Run(ctx, step, io.Discard); err != nil || res.ExitStatus != 0 {
				b.Fatalf("%+v, %v", res, err)
			}
		}
		b.StopTimer()
		if n := w.pool.claimed.Load() - claimed; n != int64(b.N) {
			b.Fatalf("%d of %d steps started on a spare", n, b.N)
		}
	})
}

// BenchmarkStepStartUnpooled is wasm-warm with no spares: every step
// makes and initialises its instance, as before spares existed.
func BenchmarkStepStartUnpooled(b *testing.B) {
	ctx := context.Background()
	b.Run("wasm-unpooled", func(b *testing.B) {
		mod := wasmModule(b, "./testdata/testplugin")
		w := &Wasm{PluginPath: []string{filepath.Dir(mod)}, CacheDir: sharedCacheDir(b), SparesPerModule: -1}
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
}
