package server

import (
	"fmt"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/digestkey"
	"github.com/snapsync/snapsync/metrics"
	"github.com/snapsync/snapsync/verify"
)

// entry is one checkpoint of the catalog.
type entry struct {
	*built
	dir    string
	owned  bool
	leases map[string]*lease
	// granted counts the leases granted on it since the process started.
	granted uint32
	active  int  // streams reading it; it is not removed while > 0
	broken  bool // a file changed under it: never reused
}

func (e *entry) created() time.Time { return time.Unix(0, e.lay.meta.CreatedUnixNano) }

// held reports whether an unexpired lease holds e.
func (e *entry) held(now time.Time) bool {
	for _, l := range e.leases {
		if now.Before(l.expires) {
			return true
		}
	}
	return false
}

// catalog is the set of checkpoints the server serves and the leases that
// hold them, persisted under stateDir (see state.go). Every method takes the
// lock; disk writes happen under it so the state on disk follows the order of
// changes.
type catalog struct {
	stateDir string
	log      zerolog.Logger
	m        *metrics.Metrics // counts lease expiries; nil: off
	key      digestkey.Key    // of the entries' chunk indexes

	mu     sync.Mutex
	byID   map[verify.Digest]*entry
	leases map[string]*lease
}

func newCatalog(stateDir string, log zerolog.Logger, m *metrics.Metrics) *catalog {
	return &catalog{stateDir: stateDir, log: log, m: m, key: digestkey.New(), byID: make(map[verify.Digest]*entry), leases: make(map[string]*lease)}
}

// reuse grants a lease on the newest held, unbroken checkpoint made after
// notBefore whose index is at least minIndex.
func (c *catalog) reuse(now, notBefore time.Time, minIndex uint64, ttl time.Duration) (*entry, *lease, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var best *entry
	for _, e := range c.byID {
		if e.broken || !e.held(now) || e.lay.meta.Index < minIndex || e.created().Before(notBefore) {
			continue
		}
		if best == nil || e.created().After(best.created()) {
			best = e
		}
	}
	if best == nil {
		return nil, nil, false
	}
	l, err := c.grantLocked(best, ttl, now)
	if err != nil {
		c.log.Warn().Err(err).Str("snapshot", best.id.Short()).Msg("reuse checkpoint")
		return nil, nil, false
	}
	return best, l, true
}

// add adds e (or finds the entry with the same ID) and grants one lease
// per ttl; with no ttl it adds nothing. It returns the entry that holds the
// leases, which is not e when the ID was already known, and the tree of a
// broken entry it replaced, for the caller to remove.
func (c *catalog) add(e *entry, ttls []time.Duration, now time.Time) (*entry, []*lease, []string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(ttls) == 0 {
		return nil, nil, nil, nil
	}
	var trees []string
	if old, ok := c.byID[e.id]; ok && !old.broken {
		e = old
	} else {
		if ok {
			trees = c.dropLocked(old)
		}
		if err := c.writeManifest(e); err != nil {
			return nil, nil, trees, err
		}
		e.leases = make(map[string]*lease)
		c.byID[e.id] = e
	}
	leases := make([]*lease, 0, len(ttls))
	for _, ttl := range ttls {
		l, err := c.grantLocked(e, ttl, now)
		if err != nil {
			return nil, nil, trees, err
		}
		leases = append(leases, l)
	}
	return e, leases, trees, nil
}

// acquire returns the held entry id names and marks a stream reading it;
// the caller calls finish when done.
func (c *catalog) acquire(id verify.Digest, now time.Time) (*entry, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byID[id]
	if !ok || !e.held(now) {
		return nil, fmt.Errorf("%w %s", ErrUnknownSnapshot, id.Short())
	}
	e.active++
	return e, nil
}

// hasChunk reports whether a held, unbroken checkpoint indexes a chunk of
// key k.
func (c *catalog) hasChunk(k uint64, now time.Time) bool {
	_, _, ok := c.findChunk(k, now, false)
	return ok
}

// acquireChunk returns a held, unbroken checkpoint that indexes a chunk of
// key k, and where, marked as read by a stream (as acquire does): it is
// not removed before the caller calls finish.
func (c *catalog) acquireChunk(k uint64, now time.Time) (*entry, chunkRef, bool) {
	return c.findChunk(k, now, true)
}

func (c *catalog) findChunk(k uint64, now time.Time, hold bool) (*entry, chunkRef, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.byID {
		if e.broken || !e.held(now) {
			continue
		}
		if ref, ok := e.chunks[k]; ok {
			if hold {
				e.active++
			}
			return e, ref, true
		}
	}
	return nil, chunkRef{}, false
}

// finish ends a stream on e; it returns the tree to remove if that was the
// last thing holding e.
func (c *catalog) finish(e *entry, now time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.active--
	return c.collectLocked(e, now)
}

// markBroken stops e from being reused after a file changed under it.
func (c *catalog) markBroken(e *entry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e.broken = true
}

// sweep drops expired leases and returns the owned trees of checkpoints no
// lease or stream holds any more, which the caller removes.
func (c *catalog) sweep(now time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var trees []string
	for _, e := range c.byID {
		trees = append(trees, c.collectLocked(e, now)...)
	}
	return trees
}

// collectLocked drops e's expired leases and, when nothing holds e, drops e
// and returns its tree if owned.
func (c *catalog) collectLocked(e *entry, now time.Time) []string {
	expired := 0
	for id, l := range e.leases {
		if !now.Before(l.expires) {
			delete(e.leases, id)
			delete(c.leases, id)
			expired++
		}
	}
	c.m.LeasesExpired(expired)
	if len(e.leases) > 0 || e.active > 0 {
		if expired > 0 {
			c.writeStateLogged(e)
		}
		return nil
	}
	if c.byID[e.id] != e {
		return nil // already dropped
	}
	return c.dropLocked(e)
}

// dropLocked forgets e and its state files; it returns e's tree if owned.
func (c *catalog) dropLocked(e *entry) []string {
	delete(c.byID, e.id)
	for id := range e.leases {
		delete(c.leases, id)
	}
	if err := c.removeState(e.id); err != nil {
		c.log.Warn().Err(err).Str("snapshot", e.id.Short()).Msg("remove checkpoint state")
	}
	c.log.Info().Str("snapshot", e.id.Short()).Bool("owned", e.owned).Str("dir", e.dir).Msg("checkpoint dropped")
	if e.owned {
		return []string{e.dir}
	}
	return nil
}

// counts returns how many checkpoints and leases are held.
func (c *catalog) counts() (checkpoints, leases int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.byID), len(c.leases)
}

// held returns how many checkpoints and leases are held, and when the
// newest checkpoint held was made.
func (c *catalog) held() (checkpoints, leases int, newest time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, e := range c.byID {
		if t := e.created(); t.After(newest) {
			newest = t
		}
	}
	return len(c.byID), len(c.leases), newest
}
