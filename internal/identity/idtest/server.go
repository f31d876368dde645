package idtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync"
	"time"
)

// server is the shared lifecycle of every fixture: an http.Server on a
// fresh 127.0.0.1 port, started once, closed once.
type server struct {
	mu       sync.Mutex
	srv      *http.Server
	url      string
	done     chan struct{}
	serveErr error
	closed   bool
}

// start listens on 127.0.0.1:0 and serves h until close. It fails if the
// server was already started.
func (s *server) start(h http.Handler) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil || s.closed {
		return errors.New("idtest: server already started")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("idtest: listen on 127.0.0.1: %w", err)
	}
	s.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
	}
	s.url = "http://" + ln.Addr().String()
	s.done = make(chan struct{})
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.serveErr = err
		}
	}()
	return nil
}

// close shuts the server down, waiting up to 5 s for requests in flight,
// and returns once the serving goroutine has exited. It is idempotent.
func (s *server) close() error {
	s.mu.Lock()
	if s.closed || s.srv == nil {
		s.closed = true
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	srv, done := s.srv, s.done
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(ctx)
	if err != nil {
		err = errors.Join(err, srv.Close())
	}
	<-done
	return errors.Join(err, s.serveErr)
}

// baseURL is "http://127.0.0.1:PORT", or "" before start.
func (s *server) baseURL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥ 1.24)
	return hex.EncodeToString(b)
}

// requestID looks like an AWS request ID (a UUID).
func requestID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
