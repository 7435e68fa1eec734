package serve

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/dir"
	"github.com/snapsync/snapsync/verify"
)

// TestRestoreFormat1 restores from a format-1 repository, one object per
// chunk, as the snapsync before packs wrote it (repo/testdata/format1, made
// by `snapsync backup --from dir:SRC`, SRC holding a 20,000-byte random
// SST, a text MANIFEST-000001 and CURRENT): it opens as format 1, verifies,
// installs whole, and a chunk stored into it is a chunk object, not a pack.
func TestRestoreFormat1(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "repo")
	if err := os.CopyFS(root, os.DirFS("../testdata/format1")); err != nil {
		t.Fatal(err)
	}
	b, err := dir.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if r.Format() != repo.Format1 {
		t.Fatalf("format %d, want 1", r.Format())
	}
	rep, err := r.Verify(ctx, verify.Digest{})
	if err != nil || !rep.OK() || rep.Snapshots != 1 || rep.Chunks != 3 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	s, err := New(ctx, r, verify.Digest{})
	if err != nil {
		t.Fatal(err)
	}
	if s.Info().Labels["fixture"] != "format1" {
		t.Fatalf("labels %v", s.Info().Labels)
	}
	dest := filepath.Join(t.TempDir(), "dest")
	if _, err := client.Install(ctx, serveStore(t, s), 0, client.Config{Dest: dest, Logger: zerolog.Nop()}); err != nil {
		t.Fatal(err)
	}
	var text strings.Builder
	for i := 1; i <= 400; i++ {
		fmt.Fprintf(&text, "line %d of a compressible text file\n", i)
	}
	for name, want := range map[string]string{"MANIFEST-000001": text.String(), "CURRENT": "CURRENT\n"} {
		if got, err := os.ReadFile(filepath.Join(dest, name)); err != nil || string(got) != want {
			t.Fatalf("%s after restore: %q, %v", name, got, err)
		}
	}
	if fi, err := os.Stat(filepath.Join(dest, "000001.sst")); err != nil || fi.Size() != 20000 {
		t.Fatalf("000001.sst after restore: %v, %v", fi, err)
	}
	data := []byte("a chunk of a later backup")
	if _, err := r.PutChunk(ctx, verify.Sum(data), data); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(repo.ChunkKey(verify.Sum(data))))); err != nil {
		t.Fatalf("a chunk stored into a format-1 repository: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "packs")); !os.IsNotExist(err) {
		t.Fatalf("packs/ in a format-1 repository: %v", err)
	}
}
