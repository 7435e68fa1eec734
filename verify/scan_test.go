package verify

import (
	"bytes"
	"testing"
)

// scanAll scans b and returns what Scan saw as a manifest: the head it
// returns and each file visited, its chunks taken from want (Scan skips
// digests) where want has the file.
func scanAll(b []byte) (*Manifest, error) {
	var files []File
	m, err := Scan(bytes.NewReader(b), int64(len(b)), func(i int, f *File) error {
		if f.Chunks != nil {
			panic("Scan handed chunks")
		}
		files = append(files, *f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	m.Files = files
	return m, nil
}

// sameScan reports whether what Scan saw of b agrees with what Decode made of it.
func sameScan(t *testing.T, b []byte) {
	want, werr := Decode(b)
	got, gerr := scanAll(b)
	if (werr == nil) != (gerr == nil) {
		t.Fatalf("Decode error %v, Scan error %v", werr, gerr)
	}
	if werr != nil {
		return
	}
	if len(got.Files) != len(want.Files) || len(got.Dirs) != len(want.Dirs) || got.ChunkSize != want.ChunkSize ||
		got.Meta.Index != want.Meta.Index || len(got.Meta.Labels) != len(want.Meta.Labels) {
		t.Fatalf("Scan saw %d files, %d dirs; Decode %d, %d", len(got.Files), len(got.Dirs), len(want.Files), len(want.Dirs))
	}
	for i, f := range want.Files {
		g := got.Files[i]
		if g.Path != f.Path || g.Size != f.Size || g.Mode != f.Mode || g.LinkTo != f.LinkTo ||
			ChunkCount(g.Size, got.ChunkSize) != int64(len(f.Chunks)) {
			t.Fatalf("file %d: Scan saw %+v, Decode %+v", i, g, f)
		}
	}
	sameChunksAt(t, b, want)
}

// sameChunksAt checks that ScanAt's offsets lead to each full entry's chunk
// records in b, and that a link's offset is -1.
func sameChunksAt(t *testing.T, b []byte, want *Manifest) {
	t.Helper()
	_, err := ScanAt(bytes.NewReader(b), int64(len(b)), func(i, n int, f *File, at int64) error {
		if n != len(want.Files) {
			t.Fatalf("ScanAt says %d files, want %d", n, len(want.Files))
		}
		w := &want.Files[i]
		if w.LinkTo >= 0 {
			if at != -1 {
				t.Fatalf("link %d: chunks at %d, want -1", i, at)
			}
			return nil
		}
		for j, c := range w.Chunks {
			off := at + int64(j)*ChunkRecordSize
			if off < 0 || off+ChunkRecordSize > int64(len(b)) || ParseChunk(b[off:]) != c {
				t.Fatalf("file %d chunk %d: no record of it at %d", i, j, off)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestScanMatchesDecode(t *testing.T) {
	for name, m := range map[string]*Manifest{
		"empty":  {ChunkSize: MinChunkSize},
		"sample": sampleManifest(),
		"links":  linksManifest(),
	} {
		t.Run(name, func(t *testing.T) {
			b, err := m.Encode()
			if err != nil {
				t.Fatal(err)
			}
			sameScan(t, b)
			for cut := range len(b) { // every truncation fails both
				sameScan(t, b[:cut])
			}
			for i := range b { // and every flipped byte agrees
				c := bytes.Clone(b)
				c[i] ^= 0x41
				sameScan(t, c)
			}
		})
	}
}

// FuzzScan: Scan accepts exactly what Decode accepts, and sees the same files.
func FuzzScan(f *testing.F) {
	for _, m := range []*Manifest{sampleManifest(), linksManifest()} {
		b, err := m.Encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) { sameScan(t, b) })
}
