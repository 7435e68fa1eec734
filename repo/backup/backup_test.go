package backup_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/backup"
	"github.com/snapsync/snapsync/repo/dir"
	"github.com/snapsync/snapsync/repo/serve"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// serveHTTP serves h on a loopback port until the test ends and returns its URL.
func serveHTTP(tb testing.TB, h http.Handler) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, h) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

// writeTree writes a checkpoint-like tree: two random files, a duplicate of
// one (same chunks, another path) and a hard link.
func writeTree(tb testing.TB, root string, seed uint64) {
	tb.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	data := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	a, b := data(3<<20), data(1<<20+17)
	for name, content := range map[string][]byte{"000001.sst": a, "000002.sst": b, "copy.sst": a} {
		if err := os.WriteFile(filepath.Join(root, name), content, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.Link(filepath.Join(root, "000001.sst"), filepath.Join(root, "link.sst")); err != nil {
		tb.Fatal(err)
	}
}

func sourceURL(tb testing.TB, root string) string {
	tb.Helper()
	return serveHTTP(tb, sourceHandler(tb, root))
}

// sourceHandler is a sidecar's peer handler serving the checkpoint at root.
func sourceHandler(tb testing.TB, root string) http.Handler {
	tb.Helper()
	src, err := dirsource.New(root, verify.Meta{Engine: "rocksdb", Labels: map[string]string{"node": "om1"}})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := server.New(context.Background(), server.Config{Source: src, WorkDir: filepath.Join(tb.TempDir(), "work"), Logger: zerolog.Nop()})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	return srv.Handler()
}

func openRepo(tb testing.TB) *repo.Repo {
	tb.Helper()
	b, err := dir.New(tb.TempDir())
	if err != nil {
		tb.Fatal(err)
	}
	r, err := repo.OpenOrCreate(context.Background(), b, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestBackupRestore backs a tree up twice (the second stores nothing), then
// restores it through serve and client.Install and compares every file.
func TestBackupRestore(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	writeTree(t, root, 1)
	url, r := sourceURL(t, root), openRepo(t)
	var last backup.Progress
	first, err := backup.Run(ctx, backup.Config{Source: url, Repo: r, Labels: map[string]string{"why": "test"},
		Progress: func(p backup.Progress) { last = p }})
	if err != nil {
		t.Fatal(err)
	}
	if first.ChunksNew == 0 || first.ChunksReused != 0 || first.BytesNew == 0 || first.Info.Labels["why"] != "test" || first.Info.Labels["node"] != "om1" {
		t.Fatalf("first backup: %+v", first)
	}
	if last.BytesDone != last.BytesTotal || last.BytesTotal != 4<<20+17 {
		t.Fatalf("last progress %+v, want every distinct byte (4 MiB + 17) done", last)
	}
	second, err := backup.Run(ctx, backup.Config{Source: url, Repo: r})
	if err != nil {
		t.Fatal(err)
	}
	if second.BytesNew != 0 || second.ChunksNew != 0 || second.ChunksReused != first.ChunksNew {
		t.Fatalf("second backup of the same tree: %+v", second)
	}
	h, err := serve.New(ctx, r, verify.Digest{})
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "db")
	res, err := client.Install(ctx, serveHTTP(t, h.HTTPHandler()), 0, client.Config{Dest: dest, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotID != first.SnapshotID {
		t.Fatalf("restored %s, backed up %s", res.SnapshotID, first.SnapshotID)
	}
	for _, name := range []string{"000001.sst", "000002.sst", "copy.sst", "link.sst"} {
		want, _ := os.ReadFile(filepath.Join(root, name))
		got, err := os.ReadFile(filepath.Join(dest, name))
		if err != nil || !bytes.Equal(got, want) {
			t.Fatalf("%s differs after restore: %v", name, err)
		}
	}
}

// TestRestoreRefusesDamage checks that a damaged chunk fails the restore
// with DATA_LOSS and leaves the destination alone.
func TestRestoreRefusesDamage(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	writeTree(t, root, 2)
	rootDir := t.TempDir()
	b, err := dir.New(rootDir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.OpenOrCreate(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := backup.Run(ctx, backup.Config{Source: sourceURL(t, root), Repo: r})
	if err != nil {
		t.Fatal(err)
	}
	m, err := r.Manifest(ctx, res.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	bad := m.Files[0].Chunks[0].Digest
	key, off, n, err := r.Locate(ctx, bad)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(rootDir, filepath.FromSlash(key))
	stored, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	stored[off+n-1] ^= 1
	if err := os.WriteFile(p, stored, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := serve.New(ctx, r, res.SnapshotID)
	if err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "db")
	_, err = client.Install(ctx, serveHTTP(t, h.HTTPHandler()), 0, client.Config{Dest: dest, Logger: zerolog.Nop()})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte(bad.String())) {
		t.Fatalf("restore of a damaged chunk: %v, want an error naming %s", err, bad)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("dest after a refused restore: %v", err)
	}
}
