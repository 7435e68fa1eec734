package sidecar

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// gate blocks the install hook at its point from the after-th call on, until
// opened: it holds a Prepare at a known place.
type gate struct {
	point       string
	after       int64
	calls       atomic.Int64
	reached     chan struct{}
	reachedOnce sync.Once
	release     chan struct{}
	releaseOnce sync.Once
}

func newGate(point string, after int) *gate {
	return &gate{point: point, after: int64(after), reached: make(chan struct{}), release: make(chan struct{})}
}

// hook is the client.Config.Hook.
func (g *gate) hook(point string) error {
	if point != g.point || g.calls.Add(1) < g.after {
		return nil
	}
	g.reachedOnce.Do(func() { close(g.reached) })
	select {
	case <-g.release:
	case <-time.After(waitLimit):
	}
	return nil
}

// wait waits until the hook blocks.
func (g *gate) wait(tb testing.TB) {
	tb.Helper()
	select {
	case <-g.reached:
	case <-time.After(waitLimit):
		tb.Fatalf("hook point %s not reached", g.point)
	}
}

// open lets every blocked and later call through.
func (g *gate) open() { g.releaseOnce.Do(func() { close(g.release) }) }
