package client

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// tableManifest is a manifest of files of 0 to 3 chunks and a hard link,
// many files for few chunks.
func tableManifest(tb testing.TB) (*verify.Manifest, []byte) {
	tb.Helper()
	const cs = verify.MinChunkSize
	m := &verify.Manifest{Meta: verify.Meta{Term: 1, Index: 2}, ChunkSize: cs, Dirs: []verify.Dir{{Path: "d", Mode: 0o755}}}
	for i := range 12 {
		n := i % 4
		f := verify.File{Path: fmt.Sprintf("d/f%02d", i), Size: int64(n) * cs, Mode: 0o644, LinkTo: -1}
		for j := range n {
			f.Chunks = append(f.Chunks, verify.Chunk{Length: cs, Digest: verify.Sum([]byte{byte(i), byte(j)})})
		}
		m.Files = append(m.Files, f)
	}
	m.Files = append(m.Files, verify.File{Path: "d/z-link", Size: m.Files[3].Size, Mode: 0o644, LinkTo: 3, Chunks: m.Files[3].Chunks})
	b, err := m.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return m, b
}

// TestDecodeManifest decodes one encoding with plan windows on each side
// of its size and chunk count: whole, whole after a skeleton pass (many
// files, few chunks: the chunk lists read in a second pass over their
// records), and without chunk lists, read back through a chunkTable.
func TestDecodeManifest(t *testing.T) {
	want, b := tableManifest(t)
	chunks := 0
	for _, f := range want.Files {
		if f.LinkTo < 0 {
			chunks += len(f.Chunks)
		}
	}
	p := filepath.Join(t.TempDir(), "manifest")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name     string
		window   int
		skeleton bool
	}{
		{"window past the encoding's size", len(b), false},
		{"window past the chunks, not the size", chunks, false},
		{"window below the chunks", chunks - 1, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m, at, err := decodeManifest(bytes.NewReader(b), int64(len(b)), tc.window)
			if err != nil {
				t.Fatal(err)
			}
			if (at != nil) != tc.skeleton {
				t.Fatalf("offsets %v, want a skeleton: %v", at, tc.skeleton)
			}
			if tc.skeleton {
				tbl, err := openChunkTable(durable.OS(), p, at)
				if err != nil {
					t.Fatal(err)
				}
				defer tbl.close()
				var all []int
				for i := range m.Files {
					if m.Files[i].LinkTo < 0 {
						all = append(all, i)
					}
				}
				if err := tbl.load(m, all); err != nil {
					t.Fatal(err)
				}
				for i := range m.Files {
					if l := m.Files[i].LinkTo; l >= 0 {
						m.Files[i].Chunks = m.Files[l].Chunks
					}
				}
			}
			for i := range m.Files { // no chunks: nil or empty alike
				if len(m.Files[i].Chunks) == 0 {
					m.Files[i].Chunks = nil
				}
			}
			if !reflect.DeepEqual(m.Files, want.Files) {
				t.Fatalf("decoded files differ:\n%+v\nwant\n%+v", m.Files, want.Files)
			}
		})
	}
}
