package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

var omSet = []string{"om.db", "db.snapshots"}

// omSource serves an OM-shaped checkpoint: om.db and a snapshot DB below
// db.snapshots sharing an SST through a hard link.
func omSource(tb testing.TB) *dirsource.Source {
	src, _ := omSourceDir(tb)
	return src
}

func omSourceDir(tb testing.TB) (*dirsource.Source, string) {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "checkpoint")
	files := map[string]string{
		"om.db/CURRENT": "MANIFEST-000009\n", "om.db/MANIFEST-000009": "new manifest",
		"om.db/000012.sst": strings.Repeat("new sst 12 ", 900),
		"db.snapshots/checkpointState/om.db-u1/CURRENT": "MANIFEST-000005\n",
	}
	for p, data := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(dir, "om.db/000012.sst"), filepath.Join(dir, "db.snapshots/checkpointState/om.db-u1/000012.sst")); err != nil {
		tb.Fatal(err)
	}
	src, err := dirsource.New(dir, verify.Meta{Engine: "rocksdb", Term: 3, Index: 7, CreatedUnixNano: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return src, dir
}

// omDir makes an OM metadata directory with an old om.db and db.snapshots
// beside om/current/VERSION and a Ratis log, and returns a check that the
// unlisted entries kept their inodes and bytes.
func omDir(tb testing.TB) (dir string, untouched func(testing.TB)) {
	tb.Helper()
	dir = filepath.Join(tb.TempDir(), "meta")
	for p, data := range map[string]string{
		"om/current/VERSION": "nodeType=OM\nclusterID=c1\n", "ratis/group/current/log_0-10": "raft entries",
		"om.db/CURRENT": "old\n", "om.db/000001.sst": "old table", "db.snapshots/checkpointState/om.db-u0/CURRENT": "x",
	} {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	keep := []string{"om", "om/current/VERSION", "ratis", "ratis/group/current/log_0-10"}
	ids := map[string]durable.FileID{}
	for _, p := range keep {
		id, err := durable.Identify(filepath.Join(dir, p))
		if err != nil {
			tb.Fatal(err)
		}
		ids[p] = id
	}
	before := map[string]map[string]string{"om": readTree(tb, filepath.Join(dir, "om")), "ratis": readTree(tb, filepath.Join(dir, "ratis"))}
	return dir, func(tb testing.TB) {
		tb.Helper()
		for p, id := range ids {
			if got, err := durable.Identify(filepath.Join(dir, p)); err != nil || !got.Same(id) {
				tb.Errorf("%s is not the same inode: %v", p, err)
			}
		}
		for p, t := range before {
			if got := readTree(tb, filepath.Join(dir, p)); !maps.Equal(got, t) {
				tb.Errorf("%s changed: %v", p, got)
			}
		}
	}
}

// listed returns the listed entries of dir, by path below dir.
func listed(tb testing.TB, dir string) map[string]string {
	tb.Helper()
	out := map[string]string{}
	for _, n := range omSet {
		for p, v := range readTree(tb, filepath.Join(dir, n)) {
			out[n+"/"+p] = v
		}
	}
	return out
}

func setConfig(tb testing.TB, dir string) Config {
	cfg := testConfig(tb, dir)
	cfg.Replace = omSet
	cfg.Streams = 1
	return cfg
}

func TestInstallSet(t *testing.T) {
	t.Parallel()
	src, srcDir := omSourceDir(t)
	ts := startServer(t, server.Config{Source: src}, "")
	dir, untouched := omDir(t)
	if _, err := Install(context.Background(), ts.url, 0, setConfig(t, dir)); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for p, v := range readTree(t, srcDir) {
		if p != "." {
			want[p] = v
		}
	}
	got := listed(t, dir)
	for p := range got {
		if strings.HasSuffix(p, "/.") {
			got[strings.TrimSuffix(p, "/.")] = got[p]
			delete(got, p)
		}
	}
	if !maps.Equal(got, want) {
		t.Fatalf("installed set %v, want %v", got, want)
	}
	untouched(t)
	if _, err := os.Lstat(filepath.Join(dir, SetStagingName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("staging area left: %v", err)
	}
	a, _ := durable.Identify(filepath.Join(dir, "om.db/000012.sst"))
	b, _ := durable.Identify(filepath.Join(dir, "db.snapshots/checkpointState/om.db-u1/000012.sst"))
	if !a.Same(b) {
		t.Errorf("the snapshot's SST is not a hard link of om.db's")
	}
}

func TestInstallSetOutsideList(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{Source: omSource(t)}, "")
	dir, untouched := omDir(t)
	old := listed(t, dir)
	cfg := setConfig(t, dir)
	cfg.Replace = []string{"om.db"}
	_, err := Install(context.Background(), ts.url, 0, cfg)
	if !errors.Is(err, ErrOutsideReplace) || !strings.Contains(err.Error(), "db.snapshots") {
		t.Fatalf("got %v, want ErrOutsideReplace naming db.snapshots", err)
	}
	if got := listed(t, dir); !maps.Equal(got, old) {
		t.Fatalf("set changed: %v", got)
	}
	untouched(t)
}

func TestCommitSetOtherList(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{Source: omSource(t)}, "")
	dir, _ := omDir(t)
	ctx := context.Background()
	if _, err := Prepare(ctx, ts.url, 0, setConfig(t, dir)); err != nil {
		t.Fatal(err)
	}
	cfg := setConfig(t, dir)
	cfg.Replace = []string{"om.db", "db.snapshots", "other"}
	if _, err := Commit(ctx, cfg); !errors.Is(err, ErrReplaceMismatch) {
		t.Fatalf("commit with another list: %v, want ErrReplaceMismatch", err)
	}
	if _, err := Commit(ctx, setConfig(t, dir)); err != nil {
		t.Fatalf("commit with the prepared list: %v", err)
	}
}

// TestSetCrashAtEveryOp stops a set install at each of its durable
// operations: the listed entries must then be all old or all new, the
// others untouched, and a second Install must leave the new set.
func TestSetCrashAtEveryOp(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{Source: omSource(t)}, "")
	install := func(t *testing.T, k int64, n *atomic.Int64) (string, map[string]string, func(testing.TB), error) {
		dir, untouched := omDir(t)
		old := listed(t, dir)
		cfg := setConfig(t, dir)
		cfg.wrapFS = crashAt(k, n)
		_, err := Install(context.Background(), ts.url, 0, cfg)
		return dir, old, untouched, err
	}
	var total atomic.Int64
	dir, _, _, err := install(t, 0, &total)
	if err != nil {
		t.Fatal(err)
	}
	want := listed(t, dir)
	for k := int64(1); k <= total.Load(); k++ {
		t.Run(fmt.Sprintf("op%d", k), func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			dir, old, untouched, err := install(t, k, &n)
			if err == nil || n.Load() < k {
				t.Fatalf("install: %v after %d operations, want the crash at %d", err, n.Load(), k)
			}
			// Between two entry moves the disk holds a mix, which the
			// journal records: Recover (here without the list, as the
			// sidecar's start-up runs it) makes it one set or the other.
			if err := Recover(context.Background(), testConfig(t, dir)); err != nil {
				t.Fatalf("recover: %v", err)
			}
			if got := listed(t, dir); !maps.Equal(got, old) && !maps.Equal(got, want) {
				t.Fatalf("set after a crash at op %d and Recover is neither: %v", k, slices.Sorted(maps.Keys(got)))
			}
			untouched(t)
			if _, err := Install(context.Background(), ts.url, 0, setConfig(t, dir)); err != nil {
				t.Fatalf("install after the crash: %v", err)
			}
			if got := listed(t, dir); !maps.Equal(got, want) {
				t.Fatalf("set after the second install: %v", got)
			}
			untouched(t)
		})
	}
}
