package client

import (
	"bytes"
	"context"
	"encoding/json"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/testdb"
	"github.com/snapsync/snapsync/server"
)

// planLog captures an install's log and reads its last plan line.
type planLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (p *planLog) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.buf.Write(b)
}

func (p *planLog) logger() zerolog.Logger { return zerolog.New(p).Level(zerolog.DebugLevel) }

// last returns the local_files, local_hashed and local_cached of the last
// plan logged, and whether a warning mentioned the digest cache.
func (p *planLog) last(tb testing.TB) (files, hashed, cached int64, warned bool) {
	tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	found := false
	for _, line := range strings.Split(p.buf.String(), "\n") {
		var e struct {
			Level   string `json:"level"`
			Message string `json:"message"`
			Files   int64  `json:"local_files"`
			Hashed  int64  `json:"local_hashed"`
			Cached  int64  `json:"local_cached"`
		}
		if json.Unmarshal([]byte(line), &e) != nil {
			continue
		}
		if e.Message == "plan" {
			files, hashed, cached, found = e.Files, e.Hashed, e.Cached, true
		}
		if e.Level == "warn" && strings.Contains(e.Message, "digest cache") {
			warned = true
		}
	}
	if !found {
		tb.Fatal("no plan logged")
	}
	if os.Getenv("PLANLOG") != "" {
		tb.Log(p.buf.String())
	}
	p.buf.Reset()
	return files, hashed, cached, warned
}

// installOnce installs from ts into dest, logging into log.
func installOnce(tb testing.TB, url, dest string, log *planLog, verifyLocal bool) {
	tb.Helper()
	cfg := testConfig(tb, dest)
	cfg.Logger, cfg.VerifyLocal = log.logger(), verifyLocal
	if _, err := Install(context.Background(), url, 0, cfg); err != nil {
		tb.Fatal(err)
	}
}

// nonEmptyInodes counts the distinct inodes of the regular files below dir
// that hold bytes: what an install reads of a local tree (an empty file has
// nothing to read, a hard link's other names are the same inode).
func nonEmptyInodes(tb testing.TB, dir string) int64 {
	tb.Helper()
	seen := make(map[[2]uint64]bool)
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && info.Size() > 0 {
			seen[[2]uint64{uint64(st.Dev), st.Ino}] = true
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return int64(len(seen))
}

// sstsOf returns the SSTs of dest, sorted.
func sstsOf(tb testing.TB, dest string) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dest, "*.sst"))
	if err != nil || len(m) < 2 {
		tb.Fatalf("want at least 2 SSTs in %s, got %v (%v)", dest, m, err)
	}
	return m
}

func TestFollowerDigestCache(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 4<<20)
	writeData(t, leader, 2, 1<<20) // a second SST
	ts := startServer(t, server.Config{Source: leader}, "")
	dest := filepath.Join(t.TempDir(), "db")
	var log planLog
	installOnce(t, ts.url, dest, &log, false)
	if _, err := os.Stat(dest[:len(dest)-2] + ".snapsync-db.digests"); err != nil {
		t.Fatalf("no cache beside Dest: %v", err)
	}

	installOnce(t, ts.url, dest, &log, false)
	files, hashed, cached, _ := log.last(t)
	if hashed != 0 || cached == 0 {
		t.Fatalf("reinstall with nothing changed: %d local files, %d hashed, %d cached; want 0 hashed", files, hashed, cached)
	}

	ssts := sstsOf(t, dest)
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(ssts[0], later, later); err != nil { // touched
		t.Fatal(err)
	}
	replaceFile(t, ssts[1]) // same content, new inode
	installOnce(t, ts.url, dest, &log, false)
	if files, hashed, _, _ = log.last(t); hashed != 2 {
		t.Fatalf("one file touched, one replaced: %d of %d hashed, want 2", hashed, files)
	}
	testdb.CheckSameDB(t, leader.DB(), dest)

	withContent := nonEmptyInodes(t, dest)
	installOnce(t, ts.url, dest, &log, true)
	if files, hashed, cached, _ = log.last(t); hashed != withContent || cached != 0 {
		t.Fatalf("--verify-local: %d of %d hashed, %d cached, want all %d with content hashed", hashed, files, cached, withContent)
	}
}

func TestFollowerDigestCacheCorrupt(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 2<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	base := t.TempDir()
	dest := filepath.Join(base, "db")
	var log planLog
	installOnce(t, ts.url, dest, &log, false)
	cache := filepath.Join(base, ".snapsync-db.digests")
	b, err := os.ReadFile(cache)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 1
	if err := os.WriteFile(cache, b, 0o600); err != nil {
		t.Fatal(err)
	}
	withContent := nonEmptyInodes(t, dest)
	installOnce(t, ts.url, dest, &log, false)
	files, hashed, cached, warned := log.last(t)
	if !warned || hashed != withContent || cached != 0 {
		t.Fatalf("corrupt cache: warned %v, %d of %d hashed, %d cached, want all %d with content hashed", warned, hashed, files, cached, withContent)
	}
	installOnce(t, ts.url, dest, &log, false) // the install rewrote it
	if _, hashed, _, warned = log.last(t); warned || hashed != 0 {
		t.Fatalf("after a corrupt cache was replaced: warned %v, %d hashed", warned, hashed)
	}
	testdb.CheckSameDB(t, leader.DB(), dest) // opening it adds a LOCK file snapsync did not write
}

// replaceFile gives path a new inode with the same content and mtime.
func replaceFile(tb testing.TB, path string) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, info.Mode().Perm()); err != nil {
		tb.Fatal(err)
	}
	if err := os.Chtimes(tmp, info.ModTime(), info.ModTime()); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		tb.Fatal(err)
	}
}
