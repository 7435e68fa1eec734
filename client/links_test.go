package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"testing"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// logLines keeps the client's log lines so a test reads the figures it logs.
type logLines struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logLines) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// field returns the number key of the last line whose message is msg.
func (l *logLines) field(tb testing.TB, msg, key string) int64 {
	tb.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	var v int64 = -1
	sc := bufio.NewScanner(bytes.NewReader(l.buf.Bytes()))
	for sc.Scan() {
		var line map[string]any
		if json.Unmarshal(sc.Bytes(), &line) == nil && line["message"] == msg {
			if n, ok := line[key].(float64); ok {
				v = int64(n)
			}
		}
	}
	if v < 0 {
		tb.Fatalf("no %q line with %s logged", msg, key)
	}
	return v
}

// installLogged installs from url into dest, returning what the client
// logged: the manifest's size and the local inodes it hashed.
func installLogged(tb testing.TB, url, dest string, verifyLocal ...bool) (res Result, manifestBytes, hashed int64) {
	tb.Helper()
	cfg := testConfig(tb, dest)
	cfg.VerifyLocal = len(verifyLocal) > 0 && verifyLocal[0] // hash, not the digest cache
	lines := &logLines{}
	cfg.Logger = zerolog.New(lines).Level(zerolog.InfoLevel)
	res, err := Install(context.Background(), url, 0, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return res, lines.field(tb, "snapshot granted", "manifest_bytes"), lines.field(tb, "plan", "local_hashed")
}

// inodeTree describes every entry below root: a directory's mode, a file's
// mode and content digest (each inode read once, however many names it has).
// With linkGroups, it says that two trees are the same.
func inodeTree(tb testing.TB, root string) map[string]string {
	tb.Helper()
	out := make(map[string]string)
	sums := make(map[uint64]string)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			out[rel] = fmt.Sprintf("dir %v", fi.Mode().Perm())
			return nil
		}
		ino := fi.Sys().(*syscall.Stat_t).Ino
		if _, ok := sums[ino]; !ok {
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sums[ino] = verify.Sum(b).String()
		}
		out[rel] = fmt.Sprintf("file %v %s", fi.Mode().Perm(), sums[ino])
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// v1Size is the size the manifest of the tree at root had in format 1,
// given its size now: a later link then repeated size, mode and chunk list.
func v1Size(tb testing.TB, root string, now int64) int64 {
	tb.Helper()
	seen := make(map[uint64]bool)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		if ino := fi.Sys().(*syscall.Stat_t).Ino; seen[ino] {
			now += 16 + (4+verify.DigestSize)*verify.ChunkCount(fi.Size(), testChunkSize)
		} else {
			seen[ino] = true
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return now
}

// checkSameLinkedTree fails unless dest has the tree at root: entries,
// modes, contents and hard-link groups, and about its disk space.
func checkSameLinkedTree(tb testing.TB, root, dest string) {
	tb.Helper()
	if got, want := inodeTree(tb, dest), inodeTree(tb, root); !mapsEqual(got, want) {
		tb.Fatalf("installed tree differs: %d entries, want %d", len(got), len(want))
	}
	groups, disk := linkGroups(tb, dest)
	wantGroups, wantDisk := linkGroups(tb, root)
	if !slices.Equal(groups, wantGroups) {
		tb.Fatalf("%d link groups, want %d", len(groups), len(wantGroups))
	}
	if disk > wantDisk+wantDisk/20 {
		tb.Fatalf("the copy takes %d bytes of disk, the leader's %d", disk, wantDisk)
	}
}

// TestThousandLinks installs one 8 MiB file with 1,000 more names: the
// manifest holds its chunk list once and about a path a link; the follower
// has one inode with 1,001 names, the disk of one file; an install over it
// hashes that inode once.
func TestThousandLinks(t *testing.T) {
	t.Parallel()
	const links = 1000
	root := filepath.Join(t.TempDir(), "checkpoint")
	first := filepath.Join(root, "om.db", "000001.sst")
	mkdirAll(t, filepath.Dir(first))
	data := make([]byte, 8<<20)
	rng := rand.New(rand.NewPCG(3, 3))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	if err := os.WriteFile(first, data, 0o644); err != nil {
		t.Fatal(err)
	}
	mkdirAll(t, filepath.Join(root, "links"))
	var pathBytes int64
	for i := range links {
		rel := fmt.Sprintf("links/%04d.sst", i)
		pathBytes += int64(len(rel))
		if err := os.Link(first, filepath.Join(root, rel)); err != nil {
			t.Fatal(err)
		}
	}
	src, err := dirsource.New(root, verify.Meta{Index: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{Source: src, Compression: server.CompressionNone}, "")
	dest := filepath.Join(t.TempDir(), "db")
	res, size, hashed := installLogged(t, ts.url, dest)
	checkSameLinkedTree(t, root, dest)
	if res.BytesFetched != int64(len(data)) {
		t.Fatalf("fetched %d bytes, want the file once: %d", res.BytesFetched, len(data))
	}
	fullEntry := int64(24+len("om.db/000001.sst")) + 128*(4+verify.DigestSize)
	perLink := float64(size-fullEntry) / links
	t.Logf("1 file of 8 MiB + %d links: manifest %d bytes (format 1: %d); full entry %d, %.1f bytes a link (path %.1f)",
		links, size, v1Size(t, root, size), fullEntry, perLink, float64(pathBytes)/links)
	if size > fullEntry+links*(8+pathBytes/links)+200 {
		t.Fatalf("manifest of %d bytes: more than the full entry and a path and 8 bytes a link", size)
	}
	if hashed != 0 {
		t.Fatalf("hashed %d local inodes in an empty dest", hashed)
	}
	res, _, hashed = installLogged(t, ts.url, dest, true)
	checkSameLinkedTree(t, root, dest)
	if hashed != 1 || res.BytesFetched != 0 {
		t.Fatalf("over the first copy: hashed %d local inodes, fetched %d bytes; want 1 inode, nothing fetched", hashed, res.BytesFetched)
	}
}

// omTree builds an Ozone Manager's checkpoint with snaps snapshot DBs: each
// snapshot links every SST om.db had when it was taken, while om.db gains
// two SSTs and compacts one away between snapshots, so SSTs are shared by
// om.db and snapshots, by snapshots only, or by one name; each DB has small
// files of its own. It returns the root and its number of distinct inodes.
func omTree(tb testing.TB, snaps int) (string, int) {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "checkpoint")
	rng := rand.New(rand.NewPCG(5, 5))
	write := func(rel string, size int, mode fs.FileMode) {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		p := filepath.Join(root, rel)
		mkdirAll(tb, filepath.Dir(p))
		if err := os.WriteFile(p, b, mode); err != nil {
			tb.Fatal(err)
		}
	}
	inodes, next := 0, 1
	var live []string // om.db's SSTs, oldest first
	addSST := func() {
		name := fmt.Sprintf("%06d.sst", next)
		next++
		write("om.db/"+name, testChunkSize/2+rng.IntN(5*testChunkSize), 0o644)
		live = append(live, name)
		inodes++
	}
	for range 20 {
		addSST()
	}
	for n := 1; n <= snaps; n++ {
		dir := fmt.Sprintf("db.snapshots/checkpointState/om.db-%d", n)
		for _, name := range live {
			p := filepath.Join(root, dir, name)
			mkdirAll(tb, filepath.Dir(p))
			if err := os.Link(filepath.Join(root, "om.db", name), p); err != nil {
				tb.Fatal(err)
			}
		}
		write(dir+"/CURRENT", 16, 0o644)
		write(dir+fmt.Sprintf("/MANIFEST-%06d", n), 2000+rng.IntN(3000), 0o644)
		write(dir+"/OPTIONS-000001", 5000, 0o600)
		inodes += 3
		addSST()
		addSST()
		if err := os.Remove(filepath.Join(root, "om.db", live[0])); err != nil {
			tb.Fatal(err)
		}
		live = live[1:]
	}
	write("om.db/CURRENT", 16, 0o644)
	write("om.db/MANIFEST-000001", 4000, 0o644)
	write("om.db/LOCK", 0, 0o600)
	return root, inodes + 3
}

// TestOzoneSnapshotLinks installs an OM-shaped tree of om.db and 50 snapshot
// DBs sharing SSTs through hard links: the follower has the leader's
// contents, modes and link groups; the manifest has one chunk list an inode;
// an install over the first copy hashes each local inode once.
func TestOzoneSnapshotLinks(t *testing.T) {
	t.Parallel()
	root, inodes := omTree(t, 50)
	src, err := dirsource.New(root, verify.Meta{Index: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{Source: src, Compression: server.CompressionNone}, "")
	dest := filepath.Join(t.TempDir(), "db")
	res, size, hashed := installLogged(t, ts.url, dest)
	checkSameLinkedTree(t, root, dest)
	paths := 0
	for _, v := range inodeTree(t, root) {
		if v[:4] == "file" {
			paths++
		}
	}
	t.Logf("om.db + 50 snapshots: %d paths, %d inodes, %d bytes of data; manifest %d bytes (format 1: %d); fetched %d",
		paths, inodes, res.BytesTotal, size, v1Size(t, root, size), res.BytesFetched)
	if hashed != 0 || res.BytesFetched != res.BytesTotal {
		t.Fatalf("into an empty dest: hashed %d local inodes, fetched %d of %d bytes", hashed, res.BytesFetched, res.BytesTotal)
	}
	withContent := nonEmptyInodes(t, dest)
	res, _, hashed = installLogged(t, ts.url, dest, true)
	checkSameLinkedTree(t, root, dest)
	if hashed != withContent || res.BytesFetched != 0 {
		t.Fatalf("over the first copy: hashed %d local inodes, want the %d of %d with content (each once); fetched %d",
			hashed, withContent, inodes, res.BytesFetched)
	}
	_, err = os.Stat(filepath.Join(dest, "db.snapshots/checkpointState/om.db-50/CURRENT"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatal("the last snapshot is missing")
	}
}
