package client

import (
	"sync"
	"sync/atomic"
	"time"
)

// progressEvery is how often Config.Progress is called while bytes move.
const progressEvery = 100 * time.Millisecond

// counters are the install's live figures, updated by every worker.
type counters struct {
	phase   atomic.Pointer[string]
	done    atomic.Int64 // bytes verified and in place
	fetched atomic.Int64 // wire bytes received
	reused  atomic.Int64 // bytes satisfied locally
	files   atomic.Int64 // files fsynced
}

func (c *counters) setPhase(p string) { c.phase.Store(&p) }

func (c *counters) snapshot(files int, total int64) Progress {
	p := Progress{Files: files, BytesTotal: total, BytesDone: c.done.Load(),
		BytesFetched: c.fetched.Load(), BytesReused: c.reused.Load()}
	if ph := c.phase.Load(); ph != nil {
		p.Phase = *ph
	}
	return p
}

// reporter calls fn with the counters' figures from one goroutine, every
// progressEvery while they change and once more when stopped.
type reporter struct {
	stopOnce sync.Once
	stop     chan struct{}
	done     chan struct{}
}

func startReporter(fn func(Progress), c *counters, files int, total int64) *reporter {
	r := &reporter{stop: make(chan struct{}), done: make(chan struct{})}
	if fn == nil {
		close(r.done)
		return r
	}
	go func() {
		defer close(r.done)
		t := time.NewTicker(progressEvery)
		defer t.Stop()
		var last Progress
		for {
			select {
			case <-r.stop:
				fn(c.snapshot(files, total))
				return
			case <-t.C:
				if p := c.snapshot(files, total); p != last {
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
