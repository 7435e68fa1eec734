package server

import (
	"context"
	"os"
	"testing"

	"github.com/snapsync/snapsync/verify"
)

// testBuild builds the manifest of root as the server does and returns
// the build and its encoding, decoded and checked against the ID.
func testBuild(tb testing.TB, root string, chunkSize int, cache *digestCache) (*built, *verify.Manifest, []byte, error) {
	tb.Helper()
	b, err := buildManifest(context.Background(), root, tb.TempDir(), verify.Meta{}, chunkSize, 2, cache, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	enc, err := os.ReadFile(b.tmp)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := verify.DecodeVerified(b.id, enc)
	if err != nil {
		tb.Fatalf("built encoding: %v", err)
	}
	if want, err := m.Encode(); err != nil || string(want) != string(enc) {
		tb.Fatalf("built encoding is not Encode's (%v)", err)
	}
	if int64(len(enc)) != b.lay.encSize || len(m.Files) != b.lay.Files() || m.TotalBytes() != b.lay.total {
		tb.Fatalf("layout: %d bytes, %d files, %d data; manifest %d, %d, %d",
			b.lay.encSize, b.lay.Files(), b.lay.total, len(enc), len(m.Files), m.TotalBytes())
	}
	f, err := os.Open(b.tmp)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	for fi, file := range m.Files {
		if b.lay.path(fi) != file.Path || b.lay.Chunks(fi) != len(file.Chunks) {
			tb.Fatalf("layout of file %d: %q, %d chunks; manifest %q, %d", fi, b.lay.path(fi), b.lay.Chunks(fi), file.Path, len(file.Chunks))
		}
		for j, c := range file.Chunks {
			d, err := b.lay.digest(f, fi, j)
			if err != nil || d != c.Digest || b.lay.length(fi, j) != int(c.Length) {
				tb.Fatalf("layout of chunk %d of %q: %v, %v", j, file.Path, d, err)
			}
		}
	}
	return b, m, enc, nil
}
