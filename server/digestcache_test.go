package server

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/durable"
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
