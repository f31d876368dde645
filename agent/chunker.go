package agent

import (
	"sync"
	"time"

	"github.com/airlockci/airlock/internal/wire"
)

// flushInterval bounds how long output waits before it is sent: short
// enough that a log feels live, long enough that a chatty step sends few
// frames.
const flushInterval = 100 * time.Millisecond

// chunker turns a step's output into log chunks of at most wire.MaxLogChunk
// bytes, emitted when full or flushInterval after their first byte.
// Write may be called from several goroutines; emit is called from one at a
// time, in order.
type chunker struct {
	emit func([]byte)

	mu     sync.Mutex
	buf    []byte
	timer  *time.Timer
	closed bool
	emitMu sync.Mutex
}

func newChunker(emit func([]byte)) *chunker { return &chunker{emit: emit} }

func (c *chunker) Write(p []byte) (int, error) {
	n := len(p)
	c.mu.Lock()
	for len(p) > 0 {
		room := wire.MaxLogChunk - len(c.buf)
		take := min(room, len(p))
		c.buf = append(c.buf, p[:take]...)
		p = p[take:]
		if len(c.buf) == wire.MaxLogChunk {
			c.flushLocked()
		}
	}
	if len(c.buf) > 0 && c.timer == nil && !c.closed {
		c.timer = time.AfterFunc(flushInterval, c.Flush)
	}
	c.mu.Unlock()
	return n, nil
}

// Flush emits what is buffered.
func (c *chunker) Flush() {
	c.mu.Lock()
	c.flushLocked()
	c.mu.Unlock()
}

func (c *chunker) flushLocked() {
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	if len(c.buf) == 0 {
		return
	}
	data := c.buf
	c.buf = nil
	// emit under emitMu, taken before releasing mu, keeps chunks in order.
	c.emitMu.Lock()
	c.mu.Unlock()
	c.emit(data)
	c.emitMu.Unlock()
	c.mu.Lock()
}

// Close emits the rest; later writes are still accepted and emitted at once.
func (c *chunker) Close() {
	c.mu.Lock()
	c.closed = true
	c.flushLocked()
	c.mu.Unlock()
}
