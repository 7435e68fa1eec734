package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"connectrpc.com/connect"
	"github.com/cockroachdb/pebble/v2"

	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testlog"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	dirsource "github.com/snapsync/snapsync/source/dir"
	pebblesource "github.com/snapsync/snapsync/source/pebble"
	"github.com/snapsync/snapsync/verify"
)

// TestBuildManifestTrees: directories and regular files are described,
// hard links become LinkTo to the first path of their group, and anything
// else is refused with an error naming it.
func TestBuildManifestTrees(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name    string
		make    func(t *testing.T, root string)
		links   map[string]string // file -> the file it links to
		wantErr string
	}{
		{"plain files and an empty dir", func(t *testing.T, root string) {
			writeTree(t, root, map[string]int{"a": 100, "d/b": 3*testChunkSize + 1, "d/e/empty": 0})
			mkdir(t, filepath.Join(root, "z-empty-dir"))
		}, nil, ""},
		{"hard links across dirs", func(t *testing.T, root string) {
			writeTree(t, root, map[string]int{"om.db/000012.sst": 2 * testChunkSize, "om.db/same-content": 2 * testChunkSize})
			link(t, filepath.Join(root, "om.db/000012.sst"), filepath.Join(root, "snap/1/000012.sst"))
			link(t, filepath.Join(root, "om.db/000012.sst"), filepath.Join(root, "a-first/000012.sst"))
		}, map[string]string{"om.db/000012.sst": "a-first/000012.sst", "snap/1/000012.sst": "a-first/000012.sst"}, ""},
		{"symlink", func(t *testing.T, root string) {
			writeTree(t, root, map[string]int{"a": 10})
			if err := os.Symlink("a", filepath.Join(root, "link-to-a")); err != nil {
				t.Fatal(err)
			}
		}, nil, `"link-to-a" is a symlink`},
		{"fifo", func(t *testing.T, root string) {
			if err := syscall.Mkfifo(filepath.Join(root, "pipe"), 0o644); err != nil {
				t.Fatal(err)
			}
		}, nil, `"pipe" is a special file`},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			tc.make(t, root)
			cache := newDigestCache(filepath.Join(t.TempDir(), "cache"), 1<<20)
			_, man, _, err := testBuild(t, root, testChunkSize, cache)
			if tc.wantErr != "" {
				if !errors.Is(err, ErrUnsupportedFile) || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want ErrUnsupportedFile naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkLinks(t, man, tc.links)
			if err := verify.CheckDir(context.Background(), root, man, 2); err != nil {
				t.Fatalf("tree does not match its manifest: %v", err)
			}
		})
	}
}

// checkLinks checks that exactly the files in want link, to the files named.
func checkLinks(tb testing.TB, m *verify.Manifest, want map[string]string) {
	tb.Helper()
	got := make(map[string]string)
	for _, f := range m.Files {
		if f.LinkTo >= 0 {
			got[f.Path] = m.Files[f.LinkTo].Path
		}
	}
	if len(got) != len(want) {
		tb.Fatalf("links %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			tb.Fatalf("links %v, want %v", got, want)
		}
	}
}

// TestOzoneTree serves a tree like an Ozone Manager checkpoint: the active
// DB and a snapshot DB in a subdirectory, both Pebble checkpoints of one DB,
// so they share their SSTs through hard links. Shared SSTs are described once
// and linked; a client fetching the group leaders gets every byte.
func TestOzoneTree(t *testing.T) {
	t.Parallel()
	db, err := pebble.Open(filepath.Join(t.TempDir(), "live"), &pebble.Options{Logger: pebblesource.Logger(testlog.Logger(t))})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := sampledb.Write(context.Background(), db, sampledb.Fill{Seed: 5, Bytes: 2 << 20}); err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, sub := range []string{"db.snapshots/checkpointState/snap1", "om.db"} {
		if err := db.Checkpoint(filepath.Join(root, sub)); err != nil {
			t.Fatal(err)
		}
	}
	src, err := dirsource.New(root, verify.Meta{Index: 7})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Source: src})
	res := ts.create(t, 7, 0)
	m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
	ssts := 0
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, "om.db/") && strings.HasSuffix(f.Path, ".sst") {
			ssts++
			if f.LinkTo < 0 || m.Files[f.LinkTo].Path != "db.snapshots/checkpointState/snap1/"+filepath.Base(f.Path) {
				t.Errorf("%s: LinkTo %d, want the snapshot's copy", f.Path, f.LinkTo)
			}
		}
	}
	if ssts == 0 {
		t.Fatal("no SSTs in om.db; the test proves nothing")
	}
	if err := verify.CheckDir(context.Background(), root, m, 2); err != nil {
		t.Fatal(err)
	}
	got, err := ts.fetch(context.Background(), t, m, &snapsyncv1.FetchChunksRequest{SnapshotId: res.GetSnapshot().GetSnapshotId(), Ranges: allRanges(m)})
	if err != nil {
		t.Fatal(err)
	}
	if got.raw != m.TotalBytes() {
		t.Fatalf("fetched %d bytes, manifest holds %d distinct", got.raw, m.TotalBytes())
	}
}

// TestSymlinkSource: a dir source holding a symlink fails CreateSnapshot with
// an error that says so.
func TestSymlinkSource(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"CURRENT": 16})
	if err := os.Symlink("/etc/passwd", filepath.Join(dir, "evil")); err != nil {
		t.Fatal(err)
	}
	src, err := dirsource.New(dir, verify.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Source: src})
	_, err = ts.client.CreateSnapshot(context.Background(), connect.NewRequest(&snapsyncv1.CreateSnapshotRequest{}))
	if codeOfErr(err) != connect.CodeInternal || !strings.Contains(err.Error(), `"evil" is a symlink`) {
		t.Fatalf("CreateSnapshot: %v, want Internal naming the symlink", err)
	}
}

// TestFileChangedUnderServer: a file of a dir source that changes after its
// manifest was built is not served (DataLoss) and the checkpoint is not
// reused; a new CreateSnapshot describes the new content.
func TestFileChangedUnderServer(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"a": 3 * testChunkSize})
	src, err := dirsource.New(dir, verify.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Source: src})
	res := ts.create(t, 0, 0)
	m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
	f, err := os.OpenFile(filepath.Join(dir, "a"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write([]byte("more")); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = ts.fetch(context.Background(), t, m, &snapsyncv1.FetchChunksRequest{SnapshotId: res.GetSnapshot().GetSnapshotId(), Ranges: allRanges(m)})
	if codeOfErr(err) != connect.CodeDataLoss {
		t.Fatalf("fetch of a changed file: %v, want DataLoss", err)
	}
	res2 := ts.create(t, 0, 0)
	if m2 := ts.manifest(t, res2.GetSnapshot().GetSnapshotId()); m2.Files[0].Size != m.Files[0].Size+4 {
		t.Fatalf("new snapshot describes %d bytes, want %d", m2.Files[0].Size, m.Files[0].Size+4)
	}
}

func mkdir(tb testing.TB, p string) {
	tb.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		tb.Fatal(err)
	}
}

func link(tb testing.TB, oldname, newname string) {
	tb.Helper()
	mkdir(tb, filepath.Dir(newname))
	if err := os.Link(oldname, newname); err != nil {
		tb.Fatal(err)
	}
}
