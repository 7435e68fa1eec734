package server

import (
	"cmp"
	"errors"
	"fmt"
	"os"
	"slices"
	"sync"

	"github.com/snapsync/snapsync/verify"
)

// fileKey identifies a file's content without reading it: an SST hard-linked
// into successive checkpoints keeps its device, inode, size and mtime.
// ctime is left out on purpose: linking a file changes it.
type fileKey struct {
	Dev, Ino  uint64
	Size      int64
	MtimeNs   int64
	ChunkSize uint32
}

// keepGenerations is how many manifest builds an entry survives unused.
const keepGenerations = 16

// digestCache remembers chunk lists by fileKey (docs/DESIGN.md invariant 8), bounded by the
// number of chunks it holds, least recently used first out, and persisted
// atomically so a restarted server does not rehash.
type digestCache struct {
	path string
	max  int

	mu      sync.Mutex
	entries map[fileKey]*cacheEntry
	chunks  int
	gen     uint64
	dirty   bool
	hits    int64
	misses  int64
}

type cacheEntry struct {
	chunks []verify.Chunk
	used   uint64 // generation of the last build that used it
}

func newDigestCache(path string, maxChunks int) *digestCache {
	return &digestCache{path: path, max: maxChunks, entries: make(map[fileKey]*cacheEntry)}
}

// get returns the cached chunks for k, counting a hit or a miss.
func (c *digestCache) get(k fileKey) ([]verify.Chunk, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		c.misses++
		return nil, false
	}
	c.hits++
	if e.used != c.gen {
		e.used, c.dirty = c.gen, true
	}
	return e.chunks, true
}

// put stores chunks for k.
func (c *digestCache) put(k fileKey, chunks []verify.Chunk) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.entries[k]; ok {
		c.chunks -= len(old.chunks)
	}
	c.entries[k] = &cacheEntry{chunks: chunks, used: c.gen}
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
		k    fileKey
		used uint64
	}
	var all []aged
	for k, e := range c.entries {
		if e.used+keepGenerations < c.gen {
			c.evict(k)
			continue
		}
		all = append(all, aged{k, e.used})
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

func (c *digestCache) evict(k fileKey) {
	c.chunks -= len(c.entries[k].chunks)
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
	if err := writeFileAtomic(c.path, encodeDigestCache(c.gen, c.entries)); err != nil {
		return fmt.Errorf("save digest cache: %w", err)
	}
	c.dirty = false
	return nil
}

// load reads the persisted cache. A missing file is an empty cache; a
// corrupt one is reported (the caller logs it and starts empty).
func (c *digestCache) load() error {
	b, err := os.ReadFile(c.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read digest cache: %w", err)
	}
	gen, entries, err := decodeDigestCache(b, c.max)
	if err != nil {
		return fmt.Errorf("decode digest cache %s: %w", c.path, err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen, c.entries, c.chunks = gen, entries, 0
	for _, e := range entries {
		c.chunks += len(e.chunks)
	}
	return nil
}
