//go:build e2e

package e2e

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// sharedTB carries the shared control plane's lifetime, which spans tests:
// its cleanups run after the last test.
type sharedTB struct {
	testing.TB
	mu       sync.Mutex
	cleanups []func()
	dirs     []string
}

func (s *sharedTB) Helper()                   {}
func (s *sharedTB) Cleanup(f func())          { s.mu.Lock(); s.cleanups = append(s.cleanups, f); s.mu.Unlock() }
func (s *sharedTB) Errorf(f string, a ...any) { fmt.Fprintf(os.Stderr, "shared stack: "+f+"\n", a...) }
func (s *sharedTB) Fatal(a ...any)            { fmt.Fprintln(os.Stderr, append([]any{"shared stack:"}, a...)...) }
func (s *sharedTB) Fatalf(f string, a ...any) { fmt.Fprintf(os.Stderr, "shared stack: "+f+"\n", a...) }
func (s *sharedTB) Logf(f string, a ...any)   {}
func (s *sharedTB) TempDir() string {
	d, err := os.MkdirTemp("", "airlock-e2e-")
	if err != nil {
		panic(err)
	}
	s.dirs = append(s.dirs, d)
	return d
}

func (s *sharedTB) cleanup() {
	for i := len(s.cleanups) - 1; i >= 0; i-- {
		s.cleanups[i]()
	}
	for _, d := range s.dirs {
		os.RemoveAll(d)
	}
}
