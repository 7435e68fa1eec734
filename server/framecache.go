package server

import (
	"container/list"
	"sync"

	"github.com/snapsync/snapsync/verify"
)

// frameEntryOverhead is what an entry costs beyond its frame: the list
// element, the map slot, the digest.
const frameEntryOverhead = 128

// frameCache keeps the zstd frames of recently compressed chunks by digest,
// least recently used out first, bounded in bytes, so that followers fetching
// the same checkpoint at about the same time share one compression of each
// chunk (docs/DESIGN.md invariant 7): serving N followers compressed costs about the CPU of
// serving one. A nil *frameCache caches nothing.
type frameCache struct {
	max int64

	mu     sync.Mutex
	size   int64
	order  *list.List // of *frameEntry, most recently used first
	byID   map[verify.Digest]*list.Element
	hits   int64
	misses int64
}

// frameEntry is a chunk's frame; nil when compressing did not pay, so the
// chunk goes raw without being compressed again.
type frameEntry struct {
	digest verify.Digest
	frame  []byte
}

// newFrameCache returns a cache of at most max bytes, or nil for max <= 0.
func newFrameCache(max int64) *frameCache {
	if max <= 0 {
		return nil
	}
	return &frameCache{max: max, order: list.New(), byID: make(map[verify.Digest]*list.Element)}
}

// get returns the frame cached for d (nil: send raw) and whether there was
// one. The frame is shared and must not be modified.
func (c *frameCache) get(d verify.Digest) ([]byte, bool) {
	if c == nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[d]
	if !ok {
		c.misses++
		return nil, false
	}
	c.hits++
	c.order.MoveToFront(el)
	return el.Value.(*frameEntry).frame, true
}

// put caches a copy of frame for d (nil: compression did not pay), evicting
// the least recently used entries beyond the bound.
func (c *frameCache) put(d verify.Digest, frame []byte) {
	if c == nil {
		return
	}
	var own []byte
	if frame != nil {
		own = append(make([]byte, 0, len(frame)), frame...)
	}
	cost := int64(len(own)) + frameEntryOverhead
	c.mu.Lock()
	defer c.mu.Unlock()
	if cost > c.max {
		return
	}
	if el, ok := c.byID[d]; ok {
		c.remove(el)
	}
	c.byID[d] = c.order.PushFront(&frameEntry{digest: d, frame: own})
	c.size += cost
	for c.size > c.max {
		c.remove(c.order.Back())
	}
}

func (c *frameCache) remove(el *list.Element) {
	e := c.order.Remove(el).(*frameEntry)
	delete(c.byID, e.digest)
	c.size -= int64(len(e.frame)) + frameEntryOverhead
}

// counts returns hits and misses so far.
func (c *frameCache) counts() (hits, misses int64) {
	if c == nil {
		return 0, 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits, c.misses
}
