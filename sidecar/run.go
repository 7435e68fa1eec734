package sidecar

import (
	"slices"
	"sync"
	"time"

	"github.com/snapsync/snapsync/client"
)

// run is one Prepare working in the background. Any number of Prepare
// streams follow it: each reads the latest progress when it changes, so a
// slow stream skips intermediate figures and never holds the fetch up.
type run struct {
	sources  []string
	minIndex uint64
	replace  []string // PrepareRequest.replace: the entries of dest a set install replaces
	// chunkSources are PrepareRequest.chunk_sources.
	chunkSources []string
	started      time.Time
	cancel       func(cause error)

	done chan struct{} // closed once res and err are final
	res  client.Prepared
	err  error

	mu       sync.Mutex // guards progress and changed
	progress client.Progress
	changed  chan struct{} // closed and replaced on every publish
}

func newRun(sources []string, minIndex uint64, cancel func(error)) *run {
	return &run{sources: sources, minIndex: minIndex, cancel: cancel,
		done: make(chan struct{}), changed: make(chan struct{})}
}

// publish records the latest progress and wakes every follower; it never
// blocks on them.
func (r *run) publish(p client.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.progress = p
	close(r.changed)
	r.changed = make(chan struct{})
}

// latest returns the latest progress and a channel closed at the next
// publish.
func (r *run) latest() (client.Progress, <-chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.progress, r.changed
}

// finished reports whether the run has ended.
func (r *run) finished() bool {
	select {
	case <-r.done:
		return true
	default:
		return false
	}
}

// satisfies reports whether a Prepare from sources for minIndex with the
// replace list can join r while r is running: the same sources in the same
// order, the same list, and an index r's will reach.
func (r *run) satisfies(sources []string, minIndex uint64, replace []string) bool {
	return slices.Equal(r.sources, sources) && minIndex <= r.minIndex && slices.Equal(r.replace, replace)
}

// record is r's record on disk in state (recPreparing while r runs,
// recPrepared with r's result, recFailed), with err if not nil.
func (r *run) record(state string, err error) *record {
	rec := &record{State: state, Sources: r.sources, MinIndex: r.minIndex, Replace: r.replace, Started: r.started}
	if state == recPrepared {
		rec.SnapshotID, rec.Term, rec.Index = r.res.SnapshotID.String(), r.res.Term, r.res.Index
	}
	if err != nil {
		rec.failure(err)
	}
	return rec
}
