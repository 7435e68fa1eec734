// Package testlog holds what tests use for logs: a zerolog logger writing to
// the test's log, and a buffer to read logs a server writes from its own
// goroutines.
package testlog

import (
	"strings"
	"sync"
)

// Buffer is a log sink safe for concurrent writes and reads.
type Buffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

// Write appends p.
func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
