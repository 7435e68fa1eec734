package verify

import (
	"bytes"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/golden"
)

// linksManifest is an OM-shaped tree with two hard-link groups: an SST of
// om.db shared by two snapshots (three paths), and one shared by one.
func linksManifest() *Manifest {
	a, b, c := Sum([]byte("chunk a")), Sum([]byte("chunk b")), Sum([]byte("chunk c"))
	sst7 := []Chunk{{Length: 64 << 10, Digest: a}, {Length: 6 << 10, Digest: b}}
	sst8 := []Chunk{{Length: 100, Digest: c}}
	return &Manifest{
		Meta:      Meta{Term: 3, Index: 1042, Engine: "rocksdb", CreatedUnixNano: 1_700_000_000_000_000_000},
		ChunkSize: 64 << 10,
		Dirs: []Dir{{Path: "db.snapshots", Mode: 0o755}, {Path: "db.snapshots/s1", Mode: 0o755},
			{Path: "db.snapshots/s2", Mode: 0o755}, {Path: "om.db", Mode: 0o755}},
		Files: []File{
			{Path: "db.snapshots/s1/000007.sst", Size: 70 << 10, Mode: 0o644, LinkTo: -1, Chunks: sst7},
			{Path: "db.snapshots/s1/000008.sst", Size: 100, Mode: 0o600, LinkTo: -1, Chunks: sst8},
			{Path: "db.snapshots/s2/000007.sst", Size: 70 << 10, Mode: 0o644, LinkTo: 0, Chunks: sst7},
			{Path: "om.db/000007.sst", Size: 70 << 10, Mode: 0o644, LinkTo: 0, Chunks: sst7},
			{Path: "om.db/000008.sst", Size: 100, Mode: 0o600, LinkTo: 1, Chunks: sst8},
			{Path: "om.db/CURRENT", Size: 0, Mode: 0o644, LinkTo: -1},
		},
	}
}

// TestManifestLinksGolden pins the encoding of link entries: path and link
// index, no size, mode or chunks.
func TestManifestLinksGolden(t *testing.T) {
	m := linksManifest()
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got := hex.Dump(enc) + "id " + Sum(enc).String() + "\n"
	golden.Check(t, filepath.Join("testdata", "manifest_links.golden"), []byte(got))
	dec, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range dec.Files {
		w := m.Files[i]
		if f.Path != w.Path || f.Size != w.Size || f.Mode != w.Mode || f.LinkTo != w.LinkTo || !sameChunks(f.Chunks, w.Chunks) {
			t.Fatalf("file %d decoded as %+v, want %+v", i, f, w)
		}
	}
}

// TestLinkCostsItsPath: each extra link of a file adds its path and 8 bytes
// to the encoding, and decodes to a File sharing the first entry's chunks.
func TestLinkCostsItsPath(t *testing.T) {
	t.Parallel()
	const links = 1000
	chunks := make([]Chunk, 128) // an 8 MiB file at 64 KiB chunks
	for j := range chunks {
		chunks[j] = Chunk{Length: 64 << 10, Digest: Sum([]byte{byte(j), byte(j >> 8)})}
	}
	m := &Manifest{ChunkSize: 64 << 10, Dirs: []Dir{{Path: "d", Mode: 0o755}}}
	m.Files = append(m.Files, File{Path: "d/00000", Size: 8 << 20, Mode: 0o644, LinkTo: -1, Chunks: chunks})
	pathBytes := 0
	for i := 1; i <= links; i++ {
		p := fmt.Sprintf("d/%05d", i)
		pathBytes += len(p)
		m.Files = append(m.Files, File{Path: p, Size: 8 << 20, Mode: 0o644, LinkTo: 0, Chunks: chunks})
	}
	single := &Manifest{ChunkSize: m.ChunkSize, Dirs: m.Dirs, Files: m.Files[:1]}
	one, err := single.Encode()
	if err != nil {
		t.Fatal(err)
	}
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if want := len(one) + links*linkEntrySize + pathBytes; len(enc) != want {
		t.Fatalf("%d links: %d bytes, want %d", links, len(enc), want)
	}
	t.Logf("one 8 MiB file: %d bytes; with %d links: %d bytes (%.1f a link)",
		len(one), links, len(enc), float64(len(enc)-len(one))/links)
	dec, err := Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(dec.Files); i++ {
		if &dec.Files[i].Chunks[0] != &dec.Files[0].Chunks[0] {
			t.Fatalf("file %d has a chunk list of its own", i)
		}
	}
}

// TestLinksNotCountedAsChunks: a link counts against MaxFiles, not against
// MaxTotalChunks.
func TestLinksNotCountedAsChunks(t *testing.T) {
	t.Parallel()
	const chunkSize = MinChunkSize
	n := MaxTotalChunks/2 + 1
	chunks := make([]Chunk, n)
	for j := range chunks {
		chunks[j].Length = chunkSize
	}
	size := int64(n) * chunkSize
	m := &Manifest{ChunkSize: chunkSize, Files: []File{
		{Path: "a", Size: size, Mode: 0o644, LinkTo: -1, Chunks: chunks},
		{Path: "b", Size: size, Mode: 0o644, LinkTo: 0, Chunks: chunks},
		{Path: "c", Size: size, Mode: 0o644, LinkTo: 0, Chunks: chunks},
	}}
	if err := m.Validate(); err != nil {
		t.Fatalf("3 paths of one inode of %d chunks: %v", n, err)
	}
	m.Files[2] = File{Path: "c", Size: size, Mode: 0o644, LinkTo: -1, Chunks: chunks}
	if err := m.Validate(); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("2 inodes of %d chunks: got %v, want %v", n, err, ErrTooLarge)
	}
}

func TestValidateRejectsLinks(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name   string
		mutate func(m *Manifest)
	}{
		{"link to itself", func(m *Manifest) { m.Files[2].LinkTo = 2 }},
		{"link out of range", func(m *Manifest) { m.Files[2].LinkTo = 1 << 30 }},
		{"link to a link", func(m *Manifest) { m.Files[3].LinkTo = 2 }},
		{"link of another mode", func(m *Manifest) { m.Files[3].Mode = 0o600 }},
		{"link of another size", func(m *Manifest) { m.Files[4].Size = 99 }},
		{"link to another content", func(m *Manifest) { m.Files[4].LinkTo = 0 }},
		{"negative link", func(m *Manifest) { m.Files[4].LinkTo = -2 }},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m := linksManifest()
			tc.mutate(m)
			if err := m.Validate(); !errors.Is(err, ErrBadManifest) {
				t.Fatalf("Validate: got %v, want %v", err, ErrBadManifest)
			}
		})
	}
}

// encodeLinksUnchecked encodes linksManifest after mutate without validating.
func encodeLinksUnchecked(tb testing.TB, mutate func(*Manifest)) []byte {
	tb.Helper()
	m := linksManifest()
	mutate(m)
	b, err := m.encode()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestDecodeRejectsLinks(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name string
		data []byte
		want string
	}{
		{"link to itself", encodeLinksUnchecked(t, func(m *Manifest) { m.Files[2].LinkTo = 2 }), "links to index 2"},
		{"link forward", encodeLinksUnchecked(t, func(m *Manifest) { m.Files[2].LinkTo = 4 }), "links to index 4"},
		{"link out of range", encodeLinksUnchecked(t, func(m *Manifest) { m.Files[2].LinkTo = 1<<32 - 2 }), "not an earlier file"},
		{"link to a link", encodeLinksUnchecked(t, func(m *Manifest) { m.Files[3].LinkTo = 2 }), "itself a link"},
		{"link path not unique", encodeLinksUnchecked(t, func(m *Manifest) { m.Files[3].Path = m.Files[2].Path }), "duplicate"},
		{"link path not clean", encodeLinksUnchecked(t, func(m *Manifest) { m.Files[3].Path = "om.db/../x" }), "bad path"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := Decode(tc.data)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Decode: got %v, want an error with %q", err, tc.want)
			}
			if _, err := scanAll(tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Scan: got %v, want an error with %q", err, tc.want)
			}
		})
	}
}

// TestDecodeOtherVersion: a manifest of version 1 (which repeated a link's
// chunk list) is refused with a message that says what to do.
func TestDecodeOtherVersion(t *testing.T) {
	t.Parallel()
	good, err := sampleManifest().Encode()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		digit byte
		want  string
	}{
		{'1', "manifest format version 1, this snapsync reads 2: upgrade the peer"},
		{'3', "manifest format version 3, this snapsync reads 2: upgrade this node"},
	} {
		b := bytes.Clone(good)
		b[len(magicPrefix)] = tc.digit
		_, err := Decode(b)
		var ve *VersionError
		if !errors.As(err, &ve) || !errors.Is(err, ErrBadManifest) || err.Error() != "verify: "+tc.want {
			t.Fatalf("version %c: got %v, want %q", tc.digit, err, tc.want)
		}
	}
}
