package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// TestDigestCacheOldFormat: a cache the previous version wrote (keyed
// without birth times) is ignored, not an error: the server starts empty and
// its next save replaces the file.
func TestDigestCacheOldFormat(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), digestCacheName)
	if err := os.WriteFile(path, []byte("SNAPDC01 whatever followed"), 0o644); err != nil {
		t.Fatal(err)
	}
	c := newDigestCache(path, 1<<10)
	if err := c.load(); err != nil {
		t.Fatalf("load of an old-format cache = %v, want it ignored", err)
	}
	if len(c.entries) != 0 || c.gen != 0 {
		t.Fatalf("old-format cache loaded %d entries, generation %d", len(c.entries), c.gen)
	}
	c.put(digestcache.Key{ID: durable.FileID{Dev: 1, Ino: 2, Birth: 3}, ChunkSize: 4096}, nil)
	if err := c.save(); err != nil {
		t.Fatal(err)
	}
	again := newDigestCache(path, 1<<10)
	if err := again.load(); err != nil || len(again.entries) != 1 {
		t.Fatalf("reload after save: %d entries, %v", len(again.entries), err)
	}
}

// TestDigestCachePutBounded: a build never holds more than max chunks in the
// cache; when full, entries the build has not used make room first, and
// what still does not fit is not kept.
func TestDigestCachePutBounded(t *testing.T) {
	t.Parallel()
	key := func(ino uint64) digestcache.Key {
		return digestcache.Key{ID: durable.FileID{Dev: 1, Ino: ino}, Size: 3 * 4096, ChunkSize: 4096}
	}
	three := make([]verify.Chunk, 3)
	c := newDigestCache(filepath.Join(t.TempDir(), digestCacheName), 7)
	c.put(key(1), three) // generation 0: an earlier build
	c.nextGeneration()
	c.put(key(2), three)
	if _, ok := c.entries[key(1)]; !ok || c.chunks != 6 {
		t.Fatalf("below max: %d chunks, old entry kept %v", c.chunks, ok)
	}
	c.put(key(3), three) // full: the old entry goes
	if _, ok := c.entries[key(1)]; ok || c.chunks != 6 {
		t.Fatalf("full: %d chunks, old entry kept %v; want 6, evicted", c.chunks, ok)
	}
	c.put(key(4), three) // full of this build's: not kept
	if _, ok := c.entries[key(4)]; ok || c.chunks != 6 {
		t.Fatalf("full of this build's: %d chunks, new entry kept %v; want 6, dropped", c.chunks, ok)
	}
	c.put(key(2), three) // again: replaces, not adds
	if c.chunks != 6 || len(c.entries) != 2 {
		t.Fatalf("put again: %d chunks in %d entries, want 6 in 2", c.chunks, len(c.entries))
	}
}
