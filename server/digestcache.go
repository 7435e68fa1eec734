package server

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// keepGenerations is how many manifest builds an entry survives unused.
const keepGenerations = 16

// digestCache remembers chunk lists by file identity (digestcache.Key, docs/DESIGN.md invariant 8), bounded by the
// number of chunks it holds, least recently used first out, and persisted
// atomically so a restarted server does not rehash.
type digestCache struct {
	path string
	max  int

	mu      sync.Mutex
	entries map[digestcache.Key]*digestcache.Entry
	chunks  int
	gen     uint64
	swept   uint64 // the generation put last made room in, by evicting older ones
	dirty   bool
	hits    int64
	misses  int64
}

func newDigestCache(path string, maxChunks int) *digestCache {
	return &digestCache{path: path, max: maxChunks, entries: make(map[digestcache.Key]*digestcache.Entry)}
}

// get returns the cached chunks for k, counting a hit or a miss.
func (c *digestCache) get(k digestcache.Key) ([]verify.Chunk, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		c.misses++
		return nil, false
	}
	c.hits++
	if e.Used != c.gen {
		e.Used, c.dirty = c.gen, true
	}
	return e.Chunks, true
}

// put stores chunks for k if they fit in max, making room (once a
// generation) by evicting every entry this build has not used: those are
// the least recently used. What does not fit is not kept, so a build of
// more chunks than max holds at most max of them here (docs/DESIGN.md
// invariant 5).
func (c *digestCache) put(k digestcache.Key, chunks []verify.Chunk) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
		c.evict(k)
	}
	if c.chunks+len(chunks) > c.max && c.swept != c.gen {
		c.swept = c.gen
		for k, e := range c.entries {
			if e.Used != c.gen {
				c.evict(k)
			}
		}
	}
	if c.chunks+len(chunks) > c.max {
		return
	}
	if cap(chunks) > len(chunks)+len(chunks)/8 {
		chunks = slices.Clone(chunks) // a hasher's list grew by doubling: keep what it holds, not its spare room
	}
	c.entries[k] = &digestcache.Entry{Chunks: chunks, Used: c.gen}
	c.chunks += len(chunks)
	c.dirty = true
}

// nextGeneration starts a manifest build.
func (c *digestCache) nextGeneration() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
}

// counts returns hits and misses so far.
func (c *digestCache) counts() (hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}

// trim drops entries unused for keepGenerations builds, then the least
// recently used until at most max chunks remain.
func (c *digestCache) trim() {
	c.mu.Lock()
	defer c.mu.Unlock()
	type aged struct {
		k    digestcache.Key
		used uint64
	}
	var all []aged
	for k, e := range c.entries {
		if e.Used+keepGenerations < c.gen {
			c.evict(k)
			continue
		}
		all = append(all, aged{k, e.Used})
	}
	if c.chunks <= c.max {
		return
	}
	slices.SortFunc(all, func(a, b aged) int { return cmp.Compare(a.used, b.used) })
	for _, a := range all {
		if c.chunks <= c.max {
			break
		}
		c.evict(a.k)
	}
}

func (c *digestCache) evict(k digestcache.Key) {
	c.chunks -= len(c.entries[k].Chunks)
	delete(c.entries, k)
	c.dirty = true
}

// save writes the cache atomically if it changed since the last save.
func (c *digestCache) save() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.dirty {
		return nil
	}
	if err := writeFileAtomic(c.path, digestcache.Encode(c.gen, c.entries)); err != nil {
		return fmt.Errorf("save digest cache: %w", err)
	}
	c.dirty = false
	return nil
}

// load reads the persisted cache. A missing file, or one an earlier version
// wrote, is an empty cache; a corrupt one, or one this uid did not write
// alone (digestcache.CheckTrusted: Config.DigestCachePath may be outside
// WorkDir), is reported (the caller logs it and starts empty; the next save
// replaces it).
func (c *digestCache) load() error {
	b, err := digestcache.ReadTrusted(durable.OS(), c.path, c.max)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read digest cache: %w", err)
	}
	gen, entries, err := digestcache.Decode(b, c.max)
	if errors.Is(err, digestcache.ErrOldFormat) {
		return nil // an earlier version's cache: start empty, the next save replaces it
	}
	if err != nil {
		return fmt.Errorf("decode digest cache %s: %w", c.path, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen, c.entries, c.chunks = gen, entries, 0
	for _, e := range entries {
		c.chunks += len(e.Chunks)
	}
	return nil
}
