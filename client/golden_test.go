package client

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/internal/golden"
	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// goldenTree is the checkpoint the golden install fetches: three files, one
// of them a hard link, as an OM snapshot shares its SSTs.
var goldenTree = map[string]string{
	"CURRENT":                    "MANIFEST-000002\n",
	"MANIFEST-000002":            "manifest of the golden tree",
	"000003.sst":                 "table 3",
	"db.snapshots/s1/000003.sst": "", // a hard link of 000003.sst
}

// TestGoldenInstall records, through the logging FS, the exact order of the
// file operations of a small install from a real server, from the manifest
// to the removal of the staging area, and compares it with
// testdata/install.golden (pebble's testdata/checkpoint habit; go test -run
// TestGolden -update rewrites it). Paths are relative to the test's base
// directory: db is Dest, .snapsync-db the staging area. The fsyncs of files
// that complete while chunks are fetched run in parallel, and so do the
// lstats of the scan of stage/ and the removals of the old tree's entries:
// each run of any of them is sorted.
func TestGoldenInstall(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{Source: goldenSource(t)}, "")
	base := t.TempDir()
	dest := filepath.Join(base, "db")
	oldDest(t, dest)
	var log testlog.Buffer
	cfg := testConfig(t, dest)
	cfg.Streams = 1
	cfg.wrapFS = func(fsys durable.StageFS) durable.StageFS { return durable.WithLogging(fsys, &log, base) }
	cfg.Hook = func(point string) error {
		if point != "chunk-written" && point != "file-synced" { // points reached in parallel
			fmt.Fprintf(&log, "hook %s\n", point)
		}
		return nil
	}
	res, err := Install(context.Background(), ts.url, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(&log, "=> %d files, %d bytes\n", res.Files, res.BytesTotal)
	golden.Check(t, filepath.Join("testdata", "install.golden"), sortSyncRuns(log.String()))
}

// goldenSource serves goldenTree from a directory.
func goldenSource(tb testing.TB) *dirsource.Source {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "checkpoint")
	for _, p := range slices.Sorted(maps.Keys(goldenTree)) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		var err error
		if goldenTree[p] == "" {
			err = os.Link(filepath.Join(dir, "000003.sst"), full)
		} else {
			err = os.WriteFile(full, []byte(goldenTree[p]), 0o644)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	src, err := dirsource.New(dir, verify.Meta{Engine: "pebble", Term: 2, Index: 1, CreatedUnixNano: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return src
}

// sortSyncRuns sorts each run of consecutive "sync " lines, and each run of
// consecutive "lstat " lines, of log.
func sortSyncRuns(log string) []byte {
	lines := strings.SplitAfter(log, "\n")
	for i := 0; i < len(lines); {
		j := i
		for _, op := range []string{"sync ", "lstat "} {
			for j < len(lines) && strings.HasPrefix(lines[j], op) && strings.HasPrefix(lines[i], op) {
				j++
			}
		}
		// Removals of one directory's entries; the directory's own removal,
		// which follows them, stays after them.
		for j < len(lines) && strings.HasPrefix(lines[i], "remove-all ") && strings.HasPrefix(lines[j], "remove-all ") &&
			parentOf(lines[j]) == parentOf(lines[i]) {
			j++
		}
		slices.Sort(lines[i:j])
		i = max(j, i+1)
	}
	return []byte(strings.Join(lines, ""))
}

// parentOf is the directory of a log line's path ("remove-all a/b\n": "a").
func parentOf(line string) string {
	_, p, _ := strings.Cut(strings.TrimSuffix(line, "\n"), " ")
	return filepath.Dir(p)
}

// TestReinstallSyncsOnlyWhatItMust: a second install of the same checkpoint
// takes every file from the DB it replaces. Files linked whose identity the
// follower digest cache knows (snapsync fsynced them when it wrote them) are
// not fsynced again;
// with --verify-local, which trusts no cache, every file is; a file whose
// mode the node changed is not linked but copied, and fsynced.
func TestReinstallSyncsOnlyWhatItMust(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{Source: goldenSource(t)}, "")
	for _, tt := range []struct {
		name        string
		verifyLocal bool
		chmod       string // a file of the DB the node chmods 0600 before the reinstall
		wantSyncs   int    // fsyncs of staged files in the second install
	}{
		// CURRENT and MANIFEST-000002, which a DB changes in place, are
		// copied (and fsynced); 000003.sst, linked, is not fsynced again.
		{"cached files: no fsync", false, "", 2},
		{"verify-local: every file", true, "", 3}, // 000003.sst's link is the same inode
		{"a file chmodded by the node", false, "000003.sst", 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dest := filepath.Join(base, "db")
			if _, err := Install(context.Background(), ts.url, 0, testConfig(t, dest)); err != nil {
				t.Fatal(err)
			}
			want := readTree(t, dest)
			if tt.chmod != "" {
				if err := os.Chmod(filepath.Join(dest, tt.chmod), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			var log testlog.Buffer
			cfg := testConfig(t, dest)
			cfg.VerifyLocal = tt.verifyLocal
			cfg.wrapFS = func(fsys durable.StageFS) durable.StageFS { return durable.WithLogging(fsys, &log, base) }
			res, err := Install(context.Background(), ts.url, 0, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.BytesFetched != 0 {
				t.Fatalf("fetched %d bytes, want everything local", res.BytesFetched)
			}
			syncs := 0
			for _, line := range strings.Split(log.String(), "\n") {
				if strings.HasPrefix(line, "sync .snapsync-db/stage/") {
					syncs++
				}
			}
			if syncs != tt.wantSyncs {
				t.Fatalf("%d staged files fsynced, want %d:\n%s", syncs, tt.wantSyncs, log.String())
			}
			sameTree(t, want, readTree(t, dest))
			if tt.chmod != "" {
				if fi, err := os.Stat(filepath.Join(dest, tt.chmod)); err != nil || fi.Mode().Perm() != 0o644 {
					t.Fatalf("%s after the reinstall: %v, %v; want mode 0644", tt.chmod, fi.Mode(), err)
				}
			}
		})
	}
}
