package backup_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/repo/backup"
	"github.com/snapsync/snapsync/repo/serve"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// teeServer serves the tree at root with tee as its OnHashed and its
// digest cache at cachePath, as backup --from dir: does.
func teeServer(tb testing.TB, root, cachePath string, tee *backup.Tee) string {
	tb.Helper()
	src, err := dirsource.New(root, verify.Meta{Engine: "rocksdb"})
	if err != nil {
		tb.Fatal(err)
	}
	srv, err := server.New(context.Background(), server.Config{Source: src, WorkDir: filepath.Join(tb.TempDir(), "work"),
		Logger: zerolog.Nop(), DigestCachePath: cachePath, OnHashed: tee.Hashed})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { srv.Close() })
	return serveHTTP(tb, srv.Handler())
}

// TestTeeReadsOnce backs a tree up through a Tee: every new chunk is stored
// from the manifest build's own read and hash (nothing is fetched), each
// distinct chunk once; a second backup of the same tree into another
// repository, its files known to the digest cache and so not read by the
// build, fetches them as from any source; both restore to the tree.
func TestTeeReadsOnce(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	writeTree(t, root, 3)
	cache := filepath.Join(t.TempDir(), "digests")
	cases := []struct {
		name        string
		wantFetched bool
	}{
		{"cold digest cache: stored as hashed", false},
		{"warm digest cache, new repository: fetched", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tee := &backup.Tee{}
			url, r := teeServer(t, root, cache, tee), openRepo(t)
			res, err := backup.Run(ctx, backup.Config{Source: url, Repo: r, Tee: tee})
			if err != nil {
				t.Fatal(err)
			}
			const distinct = 5 // 3 MiB, and 1 MiB and 17 bytes, in 1 MiB chunks: copy.sst and link.sst add none
			if res.ChunksNew != distinct || res.ChunksReused != 0 || res.BytesNew == 0 {
				t.Fatalf("backup: %+v, want %d new chunks", res, distinct)
			}
			if fetched := res.BytesFetched > 0; fetched != tc.wantFetched {
				t.Fatalf("fetched %d bytes from the source, want fetched: %v", res.BytesFetched, tc.wantFetched)
			}
			h, err := serve.New(ctx, r, res.SnapshotID)
			if err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(t.TempDir(), "db")
			if _, err := client.Install(ctx, serveHTTP(t, h.HTTPHandler()), 0, client.Config{Dest: dest, Logger: zerolog.Nop()}); err != nil {
				t.Fatal(err)
			}
			for _, name := range []string{"000001.sst", "000002.sst", "copy.sst", "link.sst"} {
				want, _ := os.ReadFile(filepath.Join(root, name))
				got, err := os.ReadFile(filepath.Join(dest, name))
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("%s differs after restore: %v", name, err)
				}
			}
		})
	}
}

// TestTeeDetached: a build that hashes a chunk with no backup attached to
// the Tee fails, rather than dropping the chunk.
func TestTeeDetached(t *testing.T) {
	var tee backup.Tee
	err := tee.Hashed(context.Background(), verify.Chunk{Length: 1, Digest: verify.Sum([]byte{1})}, []byte{1})
	if err == nil || !errors.Is(err, backup.ErrDetached) {
		t.Fatalf("Hashed with no backup: %v, want ErrDetached", err)
	}
}
