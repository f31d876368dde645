package runner

import "testing"

// BenchmarkStepStartPooled measures a warm plugin step that starts on a
// spare instance: the same plugin and step as BenchmarkStepStart's
// wasm-warm, with the timer stopped while the pool makes the next spare,
// as it would between an agent's steps. Run with:
//
//	go test -run '^$' -bench 'StepStart' ./agent/runner/
func BenchmarkStepStartPooled(b *testing.B) {
	b.Run("wasm-pooled", func(b *testing.B) {
		w, step := warmPluginStep(b, 0)
		claimed := w.pool.claimed.Load()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			w.pool.wait()
			b.StartTimer()
			mustRun(b, w, step)
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
	b.Run("wasm-unpooled", func(b *testing.B) {
		w, step := warmPluginStep(b, -1)
		for b.Loop() {
			mustRun(b, w, step)
		}
	})
}
