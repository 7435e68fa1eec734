package verify

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"errors"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/golden"
)

// sampleManifest is a small OM-shaped tree: a DB and a snapshot DB sharing an
// SST through a hard link.
func sampleManifest() *Manifest {
	a, b := Sum([]byte("chunk a")), Sum([]byte("chunk b"))
	return &Manifest{
		Meta: Meta{Term: 3, Index: 1042, Engine: "rocksdb", CreatedUnixNano: 1_700_000_000_000_000_000,
			Labels: map[string]string{"node": "om1", "cluster": "c1"}},
		ChunkSize: 64 << 10,
		Dirs: []Dir{{Path: "db.snapshots", Mode: 0o755}, {Path: "db.snapshots/snap1", Mode: 0o755},
			{Path: "om.db", Mode: 0o755}},
		Files: []File{
			{Path: "db.snapshots/snap1/000007.sst", Size: 70 << 10, Mode: 0o644, LinkTo: -1,
				Chunks: []Chunk{{Length: 64 << 10, Digest: a}, {Length: 6 << 10, Digest: b}}},
			{Path: "om.db/000007.sst", Size: 70 << 10, Mode: 0o644, LinkTo: 0,
				Chunks: []Chunk{{Length: 64 << 10, Digest: a}, {Length: 6 << 10, Digest: b}}},
			{Path: "om.db/CURRENT", Size: 0, Mode: 0o644, LinkTo: -1},
		},
	}
}

func TestManifestGolden(t *testing.T) {
	m := sampleManifest()
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	id, err := m.ID()
	if err != nil {
		t.Fatal(err)
	}
	got := hex.Dump(enc) + "id " + id.String() + "\n"
	golden.Check(t, filepath.Join("testdata", "manifest.golden"), []byte(got))
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	m := sampleManifest()
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	id := Sum(enc)
	dec, err := DecodeVerified(id, enc)
	if err != nil {
		t.Fatal(err)
	}
	again, err := dec.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(enc, again) {
		t.Fatal("Encode(Decode(b)) != b")
	}
	if dec.Files[1].LinkTo != 0 || dec.TotalBytes() != 70<<10 {
		t.Fatalf("decoded link %d total %d", dec.Files[1].LinkTo, dec.TotalBytes())
	}
	enc[len(enc)-1] ^= 1
	if _, err := DecodeVerified(id, enc); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("tampered manifest: got %v, want digest mismatch", err)
	}
}

func TestSortRelinks(t *testing.T) {
	m := sampleManifest()
	// Reverse the files and point the link at the later path: Sort must fix both.
	m.Files[0], m.Files[2] = m.Files[2], m.Files[0]
	m.Files[1].LinkTo = 2
	m.Files[2].LinkTo = -1
	m.Sort()
	if err := m.Validate(); err != nil {
		t.Fatal(err)
	}
	if m.Files[0].Path != "db.snapshots/snap1/000007.sst" || m.Files[1].LinkTo != 0 {
		t.Fatalf("after sort: %+v", m.Files)
	}
}

func TestValidateRejects(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name   string
		mutate func(m *Manifest)
		want   error
	}{
		{"dotdot", func(m *Manifest) { m.Files[2].Path = "om.db/../../x" }, ErrBadPath},
		{"absolute", func(m *Manifest) { m.Dirs[0].Path = "/etc" }, ErrBadPath},
		{"duplicate file", func(m *Manifest) { m.Files[1].Path = m.Files[0].Path }, ErrBadManifest},
		{"unsorted", func(m *Manifest) { m.Files[0], m.Files[2] = m.Files[2], m.Files[0] }, ErrBadManifest},
		{"missing parent", func(m *Manifest) { m.Dirs = m.Dirs[2:] }, ErrBadManifest},
		{"file is dir", func(m *Manifest) { m.Files[2].Path = "om.db"; m.Files = m.Files[2:] }, ErrBadManifest},
		{"chunk sum", func(m *Manifest) { m.Files[0].Size++ }, ErrBadManifest},
		{"chunk too long", func(m *Manifest) { m.Files[0].Chunks[0].Length = m.ChunkSize + 1 }, ErrBadManifest},
		{"zero chunk", func(m *Manifest) { m.Files[2].Chunks = []Chunk{{}} }, ErrBadManifest},
		{"huge file", func(m *Manifest) { m.Files[2].Size = MaxFileSize + 1 }, ErrTooLarge},
		{"negative size", func(m *Manifest) { m.Files[2].Size = -1 }, ErrTooLarge},
		{"link forward", func(m *Manifest) { m.Files[0].LinkTo = 1 }, ErrBadManifest},
		{"link to different", func(m *Manifest) { m.Files[1].Chunks[1].Digest[0] ^= 1 }, ErrBadManifest},
		{"setuid mode", func(m *Manifest) { m.Files[2].Mode |= 1 << 23 }, ErrBadManifest},
		{"tiny chunk size", func(m *Manifest) { m.ChunkSize = 1 }, ErrBadManifest},
		{"short first chunk", func(m *Manifest) { shortFirst(&m.Files[0]); shortFirst(&m.Files[1]) }, ErrBadManifest},
		{"one-byte chunks", func(m *Manifest) { oneByteChunks(&m.Files[2], 3) }, ErrBadManifest},
		{"chunk beyond size", func(m *Manifest) {
			m.Files[2].Chunks = []Chunk{{Length: m.ChunkSize, Digest: Sum(nil)}}
		}, ErrBadManifest},
		{"extra empty file chunk", func(m *Manifest) { m.Files[2].Chunks = []Chunk{{Length: 1}} }, ErrBadManifest},
		{"long engine", func(m *Manifest) { m.Meta.Engine = strings.Repeat("x", MaxEngineLen+1) }, ErrTooLarge},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := sampleManifest()
			tc.mutate(m)
			if err := m.Validate(); !errors.Is(err, tc.want) {
				t.Fatalf("Validate: got %v, want %v", err, tc.want)
			}
			if _, err := m.Encode(); err == nil {
				t.Fatal("Encode accepted an invalid manifest")
			}
		})
	}
}

func TestDecodeRejects(t *testing.T) {
	t.Parallel()
	good, err := sampleManifest().Encode()
	if err != nil {
		t.Fatal(err)
	}
	testCases := []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"bad magic", append([]byte("NOTAMANI"), good[8:]...)},
		{"truncated", good[:len(good)-5]},
		{"trailing", append(append([]byte{}, good...), 0)},
		{"absurd dir count", patchU32(good, dirCountOffset(good), 0xFFFFFFFF)},
		{"count beyond input", patchU32(good, dirCountOffset(good), 1000)},
		{"one-byte chunks", encodeUnchecked(t, func(m *Manifest) { oneByteChunks(&m.Files[2], 5) })},
		{"short first chunk", encodeUnchecked(t, func(m *Manifest) { shortFirst(&m.Files[0]); shortFirst(&m.Files[1]) })},
		{"tiny chunk size", encodeUnchecked(t, func(m *Manifest) { m.ChunkSize = 0 })},
		{"huge file", encodeUnchecked(t, func(m *Manifest) { m.Files[2].Size = 1 << 62 })},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if _, err := Decode(tc.data); err == nil {
				t.Fatal("Decode accepted bad input")
			}
			if _, err := scanAll(tc.data); err == nil {
				t.Fatal("Scan accepted bad input")
			}
		})
	}
}

// dirCountOffset finds the dir count in the sample encoding: magic, term,
// index, engine, created, labels, chunk size.
func dirCountOffset(b []byte) int {
	rest := b[len(manifestMagic):]
	d := decoder{r: bufio.NewReader(bytes.NewReader(rest)), left: int64(len(rest))}
	var m Meta
	d.meta(&m)
	d.u32()
	return len(b) - int(d.left)
}

func patchU32(b []byte, off int, v uint32) []byte {
	c := append([]byte{}, b...)
	c[off], c[off+1], c[off+2], c[off+3] = byte(v>>24), byte(v>>16), byte(v>>8), byte(v)
	return c
}

// shortFirst recuts f's chunks as a short first chunk and a full last one:
// the same bytes, the wrong shape.
func shortFirst(f *File) {
	f.Chunks[0].Length, f.Chunks[1].Length = f.Chunks[1].Length, f.Chunks[0].Length
}

// oneByteChunks makes f a file of n one-byte chunks: its sizes add up, its
// chunk count does not follow from its size.
func oneByteChunks(f *File, n int) {
	f.Size, f.Chunks = int64(n), make([]Chunk, n)
	for j := range f.Chunks {
		f.Chunks[j] = Chunk{Length: 1, Digest: Sum([]byte{byte(j)})}
	}
}

// encodeUnchecked encodes the sample manifest after mutate, without the
// validation Encode does, as a hostile peer would.
func encodeUnchecked(tb testing.TB, mutate func(*Manifest)) []byte {
	tb.Helper()
	m := sampleManifest()
	mutate(m)
	b, err := m.encode()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDecodeReaderMatchesDecode(t *testing.T) {
	t.Parallel()
	good, err := sampleManifest().Encode()
	if err != nil {
		t.Fatal(err)
	}
	m, err := DecodeReader(bytes.NewReader(good), int64(len(good)))
	if err != nil {
		t.Fatal(err)
	}
	again, err := m.Encode()
	if err != nil || !bytes.Equal(again, good) {
		t.Fatalf("round trip through DecodeReader: %v", err)
	}
	if _, err := DecodeReader(bytes.NewReader(good), int64(len(good))-1); err == nil {
		t.Fatal("DecodeReader accepted a size shorter than the encoding")
	}
	if _, err := DecodeReader(bytes.NewReader(good), int64(len(good))+1); err == nil {
		t.Fatal("DecodeReader accepted a size longer than the input")
	}
}

// TestDecodeChunkCountBeforeAllocation: a file whose chunk count its size
// does not allow is refused before its chunks are allocated, whatever the
// count says.
func TestDecodeChunkCountBeforeAllocation(t *testing.T) {
	b := encodeUnchecked(t, func(m *Manifest) { oneByteChunks(&m.Files[2], 20000) })
	allocs := testing.AllocsPerRun(5, func() {
		if _, err := Decode(b); !errors.Is(err, ErrBadManifest) || !strings.Contains(err.Error(), "has 20000 chunks, want 1 of") {
			t.Fatalf("Decode: %v", err)
		}
	})
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.TotalAlloc
	if _, err := Decode(b); err == nil {
		t.Fatal("accepted")
	}
	runtime.ReadMemStats(&ms)
	if got := ms.TotalAlloc - before; got > 256<<10 {
		t.Fatalf("refusing a 20000-chunk lie allocated %d bytes (%.0f allocs)", got, allocs)
	}
}
