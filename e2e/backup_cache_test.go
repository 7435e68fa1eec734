package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// digestCounts returns the digest cache hits and misses of the manifest
// build a backup's JSON log (--log-level info) reports.
func digestCounts(tb testing.TB, stderr string) (hits, misses int64) {
	tb.Helper()
	for line := range strings.Lines(stderr) {
		var l struct {
			Hits   *int64 `json:"digest_hits"`
			Misses int64  `json:"digest_misses"`
		}
		if json.Unmarshal([]byte(line), &l) == nil && l.Hits != nil {
			return *l.Hits, l.Misses
		}
	}
	tb.Fatalf("no digest_hits in the backup's log:\n%s", tail(stderr, 2000))
	return 0, 0
}

// TestBackupDigestCache: a backup of a dir: source keeps its digest cache in
// --cache-dir, so a second backup of unchanged files reads none of them; a
// cache another user could have written is not believed (the backup hashes
// everything and is exact), and is replaced by one this user wrote.
func TestBackupDigestCache(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	for range 3 {
		writeRandomTree(t, src, 3<<20)
	}
	location := filepath.Join(t.TempDir(), "repo")
	cacheDir := filepath.Join(t.TempDir(), "cache")
	var fetched int64 // the last backup's bytes_fetched
	backup := func() (hits, misses int64) {
		r := snapsyncOK(t, nil, "backup", "--from", "dir:"+src, "--to", location, "--cache-dir", cacheDir,
			"--json", "--log-level", "info", "--log-format", "json")
		var out struct {
			BytesFetched int64 `json:"bytes_fetched"`
		}
		if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil {
			t.Fatalf("backup --json: %v\n%s", err, r.Stdout)
		}
		fetched = out.BytesFetched
		return digestCounts(t, r.Stderr)
	}
	if h, m := backup(); h != 0 || m != 3 {
		t.Fatalf("first backup: %d hits, %d misses; want 0, 3", h, m)
	}
	// Read once, hash once: every chunk was stored as the manifest build
	// read and hashed it (repo/backup.Tee), none fetched from the source.
	if fetched != 0 {
		t.Fatalf("first backup of a dir: source fetched %d bytes; want 0, stored as hashed", fetched)
	}
	caches, err := filepath.Glob(filepath.Join(cacheDir, "*.digests"))
	if err != nil || len(caches) != 1 {
		t.Fatalf("cache files in %s: %v, %v; want one", cacheDir, caches, err)
	}
	if info, err := os.Stat(cacheDir); err != nil || info.Mode().Perm() != 0o700 {
		t.Fatalf("cache dir: %v, %v; want mode 0700", info, err)
	}
	if h, m := backup(); h != 3 || m != 0 {
		t.Fatalf("second backup: %d hits, %d misses; want every file from the cache", h, m)
	}

	// Anyone in the group could have written it: not believed, replaced.
	if err := os.Chmod(caches[0], 0o664); err != nil {
		t.Fatal(err)
	}
	if h, m := backup(); h != 0 || m != 3 {
		t.Fatalf("group-writable cache: %d hits, %d misses; want it ignored", h, m)
	}
	if h, m := backup(); h != 3 || m != 0 {
		t.Fatalf("after the cache was replaced: %d hits, %d misses; want 3, 0", h, m)
	}

	// A cache directory another user may write to is not used at all.
	if err := os.Chmod(cacheDir, 0o777); err != nil {
		t.Fatal(err)
	}
	if h, m := backup(); h != 0 || m != 3 {
		t.Fatalf("world-writable cache dir: %d hits, %d misses; want no cache", h, m)
	}
	restored := filepath.Join(t.TempDir(), "restored")
	restore(t, nil, location, restored)
	if diff := sameContent(treeFiles(t, src), treeFiles(t, restored)); diff != "" {
		t.Fatalf("restored tree differs: %s", diff)
	}
}
