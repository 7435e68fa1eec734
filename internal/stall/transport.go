package stall

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/jonboulle/clockwork"
)

// ErrStalled reports a peer that made no progress within the limit.
var ErrStalled = errors.New("stall: no progress")

// DefaultMinBytes is how many response bytes count as progress: a peer that
// sends fewer than this in a whole Limit (a drip of a few bytes a second)
// is stalled. At a 60 s limit that is a floor of about 550 bytes a second.
const DefaultMinBytes = 32 << 10

// Transport is an http.RoundTripper that cancels a request whose response
// makes no progress for Limit: no response headers yet, or fewer than
// MinBytes of body since the last progress. The response ending is
// progress too, so an answer that comes within the limit always completes.
type Transport struct {
	// Base carries the requests. Required.
	Base http.RoundTripper
	// Limit is how long a request may go without progress. Required (> 0).
	Limit time.Duration
	// MinBytes is how many body bytes count as progress. Default
	// DefaultMinBytes.
	MinBytes int64
	// Clock runs the watchdog. Default: the real clock.
	Clock clockwork.Clock
}

// CloseIdleConnections closes Base's idle connections, if it keeps any.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.Base.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// RoundTrip sends req with a watchdog that cancels it with ErrStalled.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := t.watch(cancel, req.URL.Host)
	res, err := t.Base.RoundTrip(req.WithContext(ctx))
	if err != nil {
		w.stop()
		cancel(nil)
		return nil, w.explain(err)
	}
	w.progress()
	res.Body = &body{rc: res.Body, w: w, cancel: cancel}
	return res, nil
}

// watchdog cancels its request when no progress was reported for limit.
type watchdog struct {
	limit    time.Duration
	minBytes int64
	host     string
	cancel   context.CancelCauseFunc

	mu      sync.Mutex
	timer   clockwork.Timer
	pending int64 // bytes since the last progress
	err     error // set once the watchdog fired
	stopped bool
}

func (t *Transport) watch(cancel context.CancelCauseFunc, host string) *watchdog {
	clock, minBytes := t.Clock, t.MinBytes
	if clock == nil {
		clock = clockwork.NewRealClock()
	}
	if minBytes <= 0 {
		minBytes = DefaultMinBytes
	}
	w := &watchdog{limit: t.Limit, minBytes: minBytes, host: host, cancel: cancel}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.timer = clock.AfterFunc(t.Limit, w.fire)
	return w
}

func (w *watchdog) fire() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopped {
		return
	}
	w.err = fmt.Errorf("%w from %s for %v", ErrStalled, w.host, w.limit)
	w.cancel(w.err)
}

// progress restarts the limit.
func (w *watchdog) progress() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = 0
	if !w.stopped && w.err == nil {
		w.timer.Reset(w.limit)
	}
}

// add counts n body bytes, progress once they reach minBytes.
func (w *watchdog) add(n int) {
	w.mu.Lock()
	w.pending += int64(n)
	reached := w.pending >= w.minBytes
	w.mu.Unlock()
	if reached {
		w.progress()
	}
}

func (w *watchdog) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	w.timer.Stop()
}

// explain returns ErrStalled, wrapped with what it ended, in place of err
// when the watchdog caused err.
func (w *watchdog) explain(err error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err != nil && err != nil {
		return fmt.Errorf("%w (%v)", w.err, err)
	}
	return err
}

// body reports what its reads bring to the watchdog.
type body struct {
	rc     io.ReadCloser
	w      *watchdog
	cancel context.CancelCauseFunc
}

func (b *body) Read(p []byte) (int, error) {
	n, err := b.rc.Read(p)
	if n > 0 {
		b.w.add(n)
	}
	if err == io.EOF {
		b.w.stop()
		return n, err
	}
	return n, b.w.explain(err)
}

func (b *body) Close() error {
	b.w.stop()
	err := b.rc.Close()
	b.cancel(nil)
	return err
}
