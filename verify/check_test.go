package verify

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// buildTree writes a small tree with a hard link and returns its manifest.
func buildTree(tb testing.TB) (string, *Manifest) {
	tb.Helper()
	root := tb.TempDir()
	data := make([]byte, 10<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	must := func(err error) {
		tb.Helper()
		if err != nil {
			tb.Fatal(err)
		}
	}
	must(os.MkdirAll(filepath.Join(root, "db", "snap"), 0o755))
	must(os.WriteFile(filepath.Join(root, "db", "a.sst"), data, 0o644))
	must(os.Link(filepath.Join(root, "db", "a.sst"), filepath.Join(root, "db", "snap", "a.sst")))
	chunks := []Chunk{{Length: 4096, Digest: Sum(data[:4096])}, {Length: 4096, Digest: Sum(data[4096:8192])},
		{Length: 2048, Digest: Sum(data[8192:])}}
	m := &Manifest{ChunkSize: 4096,
		Dirs: []Dir{{Path: "db", Mode: 0o755}, {Path: "db/snap", Mode: 0o755}},
		Files: []File{{Path: "db/a.sst", Size: int64(len(data)), Mode: 0o644, LinkTo: -1, Chunks: chunks},
			{Path: "db/snap/a.sst", Size: int64(len(data)), Mode: 0o644, LinkTo: 0, Chunks: chunks}},
	}
	return root, m
}

func TestCheckDir(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name   string
		damage func(tb testing.TB, root string)
		want   error
	}{
		{"intact", func(testing.TB, string) {}, nil},
		{"flipped byte", func(tb testing.TB, root string) {
			p := filepath.Join(root, "db", "a.sst")
			b, _ := os.ReadFile(p)
			b[5000] ^= 1
			if err := os.WriteFile(p, b, 0o644); err != nil {
				tb.Fatal(err)
			}
		}, ErrDigestMismatch},
		{"extra file", func(tb testing.TB, root string) {
			if err := os.WriteFile(filepath.Join(root, "db", "LOCK"), nil, 0o644); err != nil {
				tb.Fatal(err)
			}
		}, ErrMismatch},
		{"missing file", func(tb testing.TB, root string) {
			if err := os.Remove(filepath.Join(root, "db", "snap", "a.sst")); err != nil {
				tb.Fatal(err)
			}
		}, ErrMismatch},
		{"link broken into copy", func(tb testing.TB, root string) {
			p := filepath.Join(root, "db", "snap", "a.sst")
			b, _ := os.ReadFile(p)
			if os.Remove(p) != nil || os.WriteFile(p, b, 0o644) != nil {
				tb.Fatal("rewrite")
			}
		}, ErrMismatch},
		{"symlink instead of file", func(tb testing.TB, root string) {
			p := filepath.Join(root, "db", "snap", "a.sst")
			if os.Remove(p) != nil || os.Symlink("../a.sst", p) != nil {
				tb.Fatal("symlink")
			}
		}, ErrMismatch},
		{"truncated", func(tb testing.TB, root string) {
			if err := os.Truncate(filepath.Join(root, "db", "a.sst"), 100); err != nil {
				tb.Fatal(err)
			}
		}, ErrMismatch},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root, m := buildTree(t)
			tc.damage(t, root)
			err := CheckDir(context.Background(), root, m, 2)
			if (tc.want == nil) != (err == nil) || (tc.want != nil && !errors.Is(err, tc.want)) {
				t.Fatalf("CheckDir = %v, want %v", err, tc.want)
			}
		})
	}
}
