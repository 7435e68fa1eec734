package registry

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/source"
)

// DefaultRequestTimeout is how long a checkpoint request waits for the node
// to register a checkpoint, unless Config.RequestTimeout says otherwise.
const DefaultRequestTimeout = 5 * time.Minute

// watcherBuffer is how many requests a watcher may have unsent before
// further ones are dropped for it (the node is stuck; others may answer).
const watcherBuffer = 16

// Request asks a node watching for requests (Source.Watch) for a checkpoint
// reflecting at least MinIndex; the node registers it with ForRequest(ID).
type Request struct {
	ID       string
	MinIndex uint64
}

// requests is the Maker of a Source while a node watches: it sends each
// watcher a Request and waits until a registration reaches the index.
//
// Single flight: a request in flight whose MinIndex is at least the new
// one's is joined instead of sending another, and any registration reaching
// a waiter's index satisfies it, whichever request it answers.
type requests struct {
	timeout time.Duration
	log     zerolog.Logger

	mu       sync.Mutex
	watchers map[chan Request]struct{}
	pending  map[string]pendingRequest // in flight: sent, not yet met
	newest   uint64                    // index of the newest registration
	changed  chan struct{}             // closed and replaced at each registration
	closed   chan struct{}
}

type pendingRequest struct {
	Request
	sent time.Time
}

var _ Maker = (*requests)(nil)

func newRequests(timeout time.Duration, log zerolog.Logger) *requests {
	if timeout <= 0 {
		timeout = DefaultRequestTimeout
	}
	return &requests{timeout: timeout, log: log, watchers: make(map[chan Request]struct{}),
		pending: make(map[string]pendingRequest), changed: make(chan struct{}), closed: make(chan struct{})}
}

// watching reports whether a node watches for requests.
func (r *requests) watching() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.watchers) > 0
}

// Make sends a request (or joins one in flight) and waits for a
// registration reaching minIndex; the checkpoint is registered already.
func (r *requests) Make(ctx context.Context, _ string, minIndex uint64) (Made, error) {
	id, err := r.request(minIndex)
	if err != nil {
		return Made{}, err
	}
	timer := time.NewTimer(r.timeout)
	defer timer.Stop()
	for {
		r.mu.Lock()
		newest, changed := r.newest, r.changed
		r.mu.Unlock()
		if newest >= minIndex {
			return Made{Index: newest, Registered: true}, nil
		}
		select {
		case <-changed:
		case <-timer.C:
			r.drop(id)
			return Made{}, fmt.Errorf("%w: request %s: no registration within %v: %w", source.ErrMakeTimeout,
				id, r.timeout, &source.MinIndexError{Newest: newest, Known: newest > 0, Want: minIndex})
		case <-r.closed:
			return Made{}, fmt.Errorf("%w: the registry closed", source.ErrNoMaker)
		case <-ctx.Done():
			return Made{}, context.Cause(ctx)
		}
	}
}

// request joins a request in flight reaching at least minIndex, or sends a
// new one to every watcher; it returns the request's ID.
func (r *requests) request(minIndex uint64) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, p := range r.pending {
		if p.MinIndex >= minIndex {
			return id, nil
		}
	}
	if len(r.watchers) == 0 {
		return "", &noMakerError{minIndex: minIndex, newest: r.newest}
	}
	req := Request{ID: newRequestID(), MinIndex: minIndex}
	r.pending[req.ID] = pendingRequest{Request: req, sent: time.Now()}
	for w := range r.watchers {
		r.send(w, req)
	}
	r.log.Info().Str("request_id", req.ID).Uint64("min_index", minIndex).Int("watchers", len(r.watchers)).
		Msg("checkpoint requested")
	return req.ID, nil
}

// send queues req for a watcher; a watcher that is that far behind misses it.
func (r *requests) send(w chan Request, req Request) {
	select {
	case w <- req:
	default:
		r.log.Warn().Str("request_id", req.ID).Msg("a watcher is not reading its requests: request dropped for it")
	}
}

func (r *requests) drop(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.pending, id)
}

// registered records a registration of index, made for request id (or
// none), and wakes every waiter; requests it reaches are met.
func (r *requests) registered(index uint64, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.newest = index
	for pid, p := range r.pending {
		if p.MinIndex <= index {
			delete(r.pending, pid)
			r.log.Info().Str("request_id", pid).Str("answered_by", id).Uint64("index", index).
				Dur("elapsed", time.Since(p.sent)).Msg("checkpoint request met")
		}
	}
	close(r.changed)
	r.changed = make(chan struct{})
}

// watch adds a watcher, queueing it the requests in flight.
func (r *requests) watch() chan Request {
	w := make(chan Request, watcherBuffer)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.watchers[w] = struct{}{}
	for _, p := range r.pending {
		r.send(w, p.Request)
	}
	return w
}

func (r *requests) unwatch(w chan Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.watchers, w)
}

func (r *requests) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	select {
	case <-r.closed:
	default:
		close(r.closed)
	}
}

// Watch sends the node each checkpoint request (see Request) until ctx ends,
// send fails or the Source closes. Several nodes may watch: each gets every
// request, and the first registration reaching its index answers it.
func (s *Source) Watch(ctx context.Context, send func(Request) error) error {
	w := s.reqs.watch()
	defer s.reqs.unwatch(w)
	for {
		select {
		case req := <-w:
			if err := send(req); err != nil {
				return err
			}
		case <-s.reqs.closed:
			return nil
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
}

// noMakerError is ErrNoMaker and a MinIndexError.
type noMakerError struct{ minIndex, newest uint64 }

func (e *noMakerError) Error() string {
	return fmt.Sprintf("%v: no node watches for checkpoint requests: %v", source.ErrNoMaker, e.minIndexError())
}

func (e *noMakerError) minIndexError() *source.MinIndexError {
	return &source.MinIndexError{Newest: e.newest, Known: e.newest > 0, Want: e.minIndex}
}

func (e *noMakerError) Unwrap() []error { return []error{source.ErrNoMaker, e.minIndexError()} }

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return hex.EncodeToString(b[:])
}
