package client

import (
	"context"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// linkedTree builds a checkpoint shaped like an Ozone Manager's: an active DB
// and snapshot DBs in nested directories sharing SSTs through hard links, two
// SSTs with the same content that are not links, files of several modes, an
// empty file and an empty directory. It returns the tree's root.
func linkedTree(tb testing.TB) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "checkpoint")
	rng := rand.New(rand.NewPCG(7, 7))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	shared := random(5*testChunkSize + 123)
	files := []struct {
		path string
		data []byte
		mode fs.FileMode
	}{
		{"om.db/000010.sst", shared, 0o644},
		{"om.db/000011.sst", random(3 * testChunkSize), 0o644},
		{"snapshots/s3/000012.sst", shared, 0o644}, // same content, its own inode
		{"om.db/CURRENT", []byte("MANIFEST-000001\n"), 0o644},
		{"om.db/LOCK", nil, 0o600},
		{"om.db/OPTIONS-000003", random(1000), 0o640},
		{"om.db/secret.key", random(200), 0o400},
	}
	for _, f := range files {
		p := filepath.Join(root, f.path)
		mkdirAll(tb, filepath.Dir(p))
		if err := os.WriteFile(p, f.data, f.mode); err != nil {
			tb.Fatal(err)
		}
	}
	mkdirAll(tb, filepath.Join(root, "snapshots/empty"))
	for _, l := range [][2]string{
		{"om.db/000010.sst", "snapshots/s1/000010.sst"},
		{"om.db/000010.sst", "snapshots/s2/deep/er/000010.sst"},
		{"om.db/000011.sst", "snapshots/s2/deep/er/000011.sst"},
	} {
		p := filepath.Join(root, l[1])
		mkdirAll(tb, filepath.Dir(p))
		if err := os.Link(filepath.Join(root, l[0]), p); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}

func mkdirAll(tb testing.TB, p string) {
	tb.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		tb.Fatal(err)
	}
}

// linkGroups returns the tree's hard-link groups of more than one path, each
// sorted, in order, and the disk the tree's regular files take (each inode
// once).
func linkGroups(tb testing.TB, root string) ([]string, int64) {
	tb.Helper()
	byInode := make(map[uint64][]string)
	var disk int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		rel, _ := filepath.Rel(root, p)
		if byInode[st.Ino] == nil {
			disk += st.Blocks * 512
		}
		byInode[st.Ino] = append(byInode[st.Ino], rel)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	var groups []string
	for _, g := range byInode {
		if len(g) > 1 {
			slices.Sort(g)
			groups = append(groups, strings.Join(g, " "))
		}
	}
	slices.Sort(groups)
	return groups, disk
}

// modes returns every entry's permission bits below root.
func modes(tb testing.TB, root string) map[string]fs.FileMode {
	tb.Helper()
	out := make(map[string]fs.FileMode)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		out[rel] = fi.Mode().Perm()
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// TestHardLinkGroups installs a tree with hard links twice (into an empty
// dest, then over the first copy): each time the follower has exactly the
// leader's files, modes and hard-link groups, each content is fetched once,
// and the tree takes the leader's disk space.
func TestHardLinkGroups(t *testing.T) {
	t.Parallel()
	root := linkedTree(t)
	src, err := dirsource.New(root, verify.Meta{Index: 4})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{Source: src, Compression: server.CompressionNone}, "")
	wantGroups, wantDisk := linkGroups(t, root)
	if len(wantGroups) != 2 {
		t.Fatalf("the leader's tree has link groups %q", wantGroups)
	}
	wantTree, wantModes := readTree(t, root), modes(t, root)
	// A plan window of one chunk stages each file in a window of its own:
	// the two copies of the shared content are in different windows, and
	// still fetched once (window.go).
	for _, window := range []int{0, 1, 6} {
		t.Run(fmt.Sprintf("plan window %d", window), func(t *testing.T) {
			installLinkedTree(t, ts.url, window, wantTree, wantModes, wantGroups, wantDisk)
		})
	}
}

// installLinkedTree installs linkedTree's tree from url twice with the
// plan window window (0: the default), into an empty dest and over the
// first copy, and checks the copy: content, modes, link groups, disk, and
// each distinct content fetched once.
func installLinkedTree(t *testing.T, url string, window int, wantTree map[string]string, wantModes map[string]fs.FileMode,
	wantGroups []string, wantDisk int64) {
	dest := filepath.Join(t.TempDir(), "db")
	for _, run := range []string{"into an empty dest", "over the first copy"} {
		cfg := testConfig(t, dest)
		cfg.PlanWindow = window
		res, err := Install(context.Background(), url, 0, cfg)
		if err != nil {
			t.Fatalf("%s: %v", run, err)
		}
		sameTree(t, wantTree, readTree(t, dest))
		if got := modes(t, dest); !mapsEqual(got, wantModes) {
			t.Fatalf("%s: modes %v, want %v", run, got, wantModes)
		}
		groups, disk := linkGroups(t, dest)
		if !slices.Equal(groups, wantGroups) {
			t.Fatalf("%s: link groups\n%q\nwant\n%q", run, groups, wantGroups)
		}
		t.Logf("%s: fetched %d, reused %d, total %d; disk %d, leader's %d",
			run, res.BytesFetched, res.BytesReused, res.BytesTotal, disk, wantDisk)
		if disk > wantDisk+wantDisk/20 {
			t.Fatalf("%s: the copy takes %d bytes of disk, the leader's %d", run, disk, wantDisk)
		}
		distinct := res.BytesTotal - int64(len(wantTree["snapshots/s3/000012.sst"]))
		switch {
		case run == "into an empty dest" && res.BytesFetched != distinct:
			t.Fatalf("fetched %d bytes, want each distinct content once: %d", res.BytesFetched, distinct)
		case run == "over the first copy" && (res.BytesFetched != 0 || res.BytesReused != res.BytesTotal):
			t.Fatalf("over an identical copy: fetched %d, reused %d of %d", res.BytesFetched, res.BytesReused, res.BytesTotal)
		}
	}
}

func mapsEqual[K comparable, V comparable](a, b map[K]V) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestLinksMaskedModes: an SST the leader keeps group-writable is installed
// 0644 under the default mask; a second install hard-links that file of Dest
// (same inode) instead of copying it, because its mode is already the one the
// install gives.
func TestLinksMaskedModes(t *testing.T) {
	t.Parallel()
	root := filepath.Join(t.TempDir(), "checkpoint")
	mkdirAll(t, root)
	sst := filepath.Join(root, "000007.sst")
	if err := os.WriteFile(sst, []byte(strings.Repeat("sst bytes ", 3*testChunkSize/10)), 0o664); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(sst, 0o664); err != nil { // past the test's umask
		t.Fatal(err)
	}
	src, err := dirsource.New(root, verify.Meta{Index: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{Source: src}, "")
	dest := filepath.Join(t.TempDir(), "db")
	var inodes []uint64
	for range 2 {
		if _, err := Install(context.Background(), ts.url, 0, testConfig(t, dest)); err != nil {
			t.Fatal(err)
		}
		fi, err := os.Stat(filepath.Join(dest, "000007.sst"))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Fatalf("installed %v, want 0644 (0664 masked by 022)", fi.Mode().Perm())
		}
		inodes = append(inodes, fi.Sys().(*syscall.Stat_t).Ino)
	}
	if inodes[0] != inodes[1] {
		t.Fatalf("the second install copied the SST (inode %d, then %d) instead of linking it", inodes[0], inodes[1])
	}
}
