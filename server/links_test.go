package server

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/snapsync/snapsync/verify"
)

// TestBuildManifestLinks: a file with 1,000 more names is hashed once (one
// digest cache miss, then one hit), its entry carries its chunk list once,
// each link entry about its path, and every link shares the first entry's
// chunk slice in memory.
func TestBuildManifestLinks(t *testing.T) {
	t.Parallel()
	const links = 1000
	root := t.TempDir()
	writeTree(t, root, map[string]int{"om.db/000001.sst": 16 * testChunkSize})
	pathBytes := len("om.db/000001.sst")
	for i := range links {
		rel := fmt.Sprintf("db.snapshots/s%04d/000001.sst", i)
		if i > 0 {
			pathBytes += len(rel) // the first is the full entry's
		}
		link(t, filepath.Join(root, "om.db/000001.sst"), filepath.Join(root, rel))
	}
	cache := newDigestCache(filepath.Join(t.TempDir(), "cache"), 1<<20)
	for run, want := range [][2]int64{{0, 1}, {1, 1}} {
		_, man, enc, err := testBuild(t, root, testChunkSize, cache)
		if err != nil {
			t.Fatal(err)
		}
		if hits, misses := cache.counts(); hits != want[0] || misses != want[1] {
			t.Fatalf("build %d: cache hits %d, misses %d; want %d, %d", run, hits, misses, want[0], want[1])
		}
		first := man.Files[0]
		for _, f := range man.Files[1:] {
			if f.LinkTo != 0 || &f.Chunks[0] != &first.Chunks[0] {
				t.Fatalf("%s: LinkTo %d, or a chunk list of its own", f.Path, f.LinkTo)
			}
		}
		var dirBytes int
		for _, d := range man.Dirs {
			dirBytes += 8 + len(d.Path)
		}
		files := len(enc) - dirBytes
		full := 24 + len(first.Path) + 16*(4+verify.DigestSize)
		t.Logf("1 file + %d links: manifest %d bytes, %d of them files: full entry %d, %.1f a link (path %.1f)",
			links, len(enc), files, full, float64(files-full)/links, float64(pathBytes)/links)
		if files > full+links*8+pathBytes+100 {
			t.Fatalf("file entries take %d bytes, want about %d", files, full+links*8+pathBytes)
		}
	}
}
