package client

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/snapsync/snapsync/metrics"
)

// progressEvery is how often Config.Progress is called while bytes move.
const progressEvery = 100 * time.Millisecond

// counters are the install's live figures, updated by every worker.
type counters struct {
	phase   atomic.Pointer[string]
	done    atomic.Int64 // bytes verified and in place
	fetched atomic.Int64 // wire bytes received
	sources atomic.Int64 // of those, from chunk sources
	reused  atomic.Int64 // bytes satisfied locally
	files   atomic.Int64 // files fsynced
	// nfiles and total are the manifest's, once known.
	nfiles atomic.Int64
	total  atomic.Int64
	// m also counts what is fetched and reused; nil: off.
	m *metrics.Metrics
}

// addFetched counts n wire bytes received.
func (c *counters) addFetched(n int64) {
	c.fetched.Add(n)
	c.m.Received(n)
}

// addReused counts n bytes found locally.
func (c *counters) addReused(n int64) {
	c.reused.Add(n)
	c.m.Reused(n)
}

func (c *counters) setPhase(p string) { c.phase.Store(&p) }

// setManifest records the figures of the manifest being installed.
func (c *counters) setManifest(files int, total int64) {
	c.nfiles.Store(int64(files))
	c.total.Store(total)
}

func (c *counters) snapshot() Progress {
	p := Progress{Files: int(c.nfiles.Load()), BytesTotal: c.total.Load(), BytesDone: c.done.Load(),
		BytesFetched: c.fetched.Load(), BytesReused: c.reused.Load(), BytesFromSources: c.sources.Load()}
	if ph := c.phase.Load(); ph != nil {
		p.Phase = *ph
	}
	return p
}

// reporter calls fn with the counters' figures from one goroutine, at once,
// every progressEvery while they change (a phase change included) and once
// more when stopped.
type reporter struct {
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

func startReporter(fn func(Progress), c *counters) *reporter {
	r := &reporter{stop: make(chan struct{}), done: make(chan struct{})}
	if fn == nil {
		close(r.done)
		return r
	}
	go func() {
		defer close(r.done)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		last := c.snapshot()
		fn(last)
		for {
			select {
			case <-r.stop:
				fn(c.snapshot())
				return
			case <-t.C:
				if p := c.snapshot(); p != last {
					fn(p)
					last = p
				}
			}
		}
	}()
	return r
}

// Stop makes the last call and waits for it.
func (r *reporter) Stop() {
	r.stopOnce.Do(func() { close(r.stop) })
	<-r.done
}
