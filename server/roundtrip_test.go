package server

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/testtree"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/source"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// TestCreateAndManifest: the manifest a client pages in verifies against the
// snapshot ID, describes the checkpoint tree exactly, and agrees with the
// SnapshotInfo summary.
func TestCreateAndManifest(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name   string
		source func(t *testing.T) source.Source
		engine string
		owned  bool
	}{
		{"pebble", func(t *testing.T) source.Source { return openPebble(t, 4<<20) }, "pebble", true},
		{"dir", func(t *testing.T) source.Source {
			dir := t.TempDir()
			writeTree(t, dir, map[string]int{"CURRENT": 16, "OPTIONS-000005": 4000, "000007.sst": 300 << 10, "sub/000009.log": 0})
			src, err := dirsource.New(dir, verify.Meta{Term: 3, Index: 42, Labels: map[string]string{"node": "om1"}})
			if err != nil {
				t.Fatal(err)
			}
			return src
		}, "rocksdb", false},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, Config{Source: tc.source(t)})
			res := ts.create(t, 0, 0)
			m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
			info := res.GetSnapshot()
			if info.GetEngine() != tc.engine || m.Meta.Engine != tc.engine {
				t.Errorf("engine %q / %q, want %q", info.GetEngine(), m.Meta.Engine, tc.engine)
			}
			if info.GetFileCount() != uint64(len(m.Files)) || info.GetTotalBytes() != uint64(m.TotalBytes()) ||
				info.GetChunkSize() != testChunkSize || info.GetIndex() != m.Meta.Index {
				t.Errorf("info %+v disagrees with manifest", info)
			}
			e := ts.entry(verify.Digest(info.GetSnapshotId()))
			if e == nil || e.owned != tc.owned {
				t.Fatalf("catalog entry %+v, want owned=%v", e, tc.owned)
			}
			if err := verify.CheckDir(context.Background(), e.dir, m, 2); err != nil {
				t.Fatalf("checkpoint dir does not match its manifest: %v", err)
			}
			if res.GetLease().GetLeaseId() == "" || res.GetLease().GetExpiresUnixNano() == 0 {
				t.Errorf("no lease: %+v", res.GetLease())
			}
		})
	}
}

// TestManifestPages: a manifest larger than a page arrives in several pages
// that reassemble to bytes that verify.
func TestManifestPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := make(map[string]int)
	// Few files with long paths (13 nested 240-byte names): each takes
	// about 3.4 KB of encoding, 320 of them more than a page.
	name := strings.Repeat("n", 240)
	deep := strings.Repeat(name+"/", 13)
	for i := range 320 {
		files[deep+name+strconv.Itoa(i)] = 0
	}
	writeTree(t, dir, files)
	src, err := dirsource.New(dir, verify.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Source: src})
	res := ts.create(t, 0, 0)
	if res.GetSnapshot().GetManifestSize() <= manifestPage {
		t.Fatalf("manifest of %d bytes fits one page; the test proves nothing", res.GetSnapshot().GetManifestSize())
	}
	m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
	if len(m.Files) != len(files) {
		t.Fatalf("%d files, want %d", len(m.Files), len(files))
	}
}

// TestFetchChunks: every chunk arrives once with the digest the manifest
// names, raw or zstd as asked.
func TestFetchChunks(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{Source: openPebble(t, 6<<20), Compression: CompressionZstd})
	res := ts.create(t, 0, 0)
	m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
	testCases := []struct {
		name     string
		comp     snapsyncv1.Compression
		wantZstd bool // some chunks compressed
		wantRaw  bool // every chunk raw
	}{
		{"none", snapsyncv1.Compression_COMPRESSION_NONE, false, true},
		{"zstd", snapsyncv1.Compression_COMPRESSION_ZSTD, true, false},
		{"unspecified uses the server's zstd", snapsyncv1.Compression_COMPRESSION_UNSPECIFIED, true, false},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := ts.fetch(context.Background(), t, m, &snapsyncv1.FetchChunksRequest{
				SnapshotId: res.GetSnapshot().GetSnapshotId(), Ranges: allRanges(m), Compression: tc.comp,
				LeaseId: res.GetLease().GetLeaseId(),
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%d chunks, %d zstd, %d raw bytes, %d on the wire", f.chunks, f.zstd, f.raw, f.wire)
			if f.raw != m.TotalBytes() {
				t.Errorf("%d bytes, want %d", f.raw, m.TotalBytes())
			}
			if tc.wantRaw && f.zstd != 0 || tc.wantZstd && (f.zstd == 0 || f.wire >= f.raw) {
				t.Errorf("%d of %d chunks zstd, %d wire bytes for %d", f.zstd, f.chunks, f.wire, f.raw)
			}
		})
	}
}

// TestFetchEveryProtocol: chunks arrive whole over Connect, gRPC and
// gRPC-Web, in binary protobuf (read from the file straight into the send
// buffer) and in JSON (read into a buffer first), raw and compressed.
func TestFetchEveryProtocol(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{Source: openPebble(t, 2<<20), Compression: CompressionZstd})
	res := ts.create(t, 0, 0)
	m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
	for _, tc := range []struct {
		name string
		opts []connect.ClientOption
	}{
		{"connect proto", nil},
		{"connect json", []connect.ClientOption{connect.WithProtoJSON()}},
		{"grpc proto", []connect.ClientOption{connect.WithGRPC()}},
		{"grpc json", []connect.ClientOption{connect.WithGRPC(), connect.WithProtoJSON()}},
		{"grpc-web proto", []connect.ClientOption{connect.WithGRPCWeb()}},
	} {
		for _, comp := range []snapsyncv1.Compression{snapsyncv1.Compression_COMPRESSION_NONE, snapsyncv1.Compression_COMPRESSION_ZSTD} {
			t.Run(tc.name+" "+comp.String(), func(t *testing.T) {
				c := *ts
				c.client = newTestClient(ts.url, tc.opts...)
				f, err := c.fetch(context.Background(), t, m, &snapsyncv1.FetchChunksRequest{
					SnapshotId: res.GetSnapshot().GetSnapshotId(), Ranges: allRanges(m), Compression: comp,
					LeaseId: res.GetLease().GetLeaseId(),
				})
				if err != nil {
					t.Fatal(err)
				}
				if f.raw != m.TotalBytes() || (comp == snapsyncv1.Compression_COMPRESSION_ZSTD) != (f.zstd > 0) {
					t.Fatalf("%d bytes (want %d), %d chunks zstd", f.raw, m.TotalBytes(), f.zstd)
				}
			})
		}
	}
}

// TestFetchSubranges: ranges in any order, starting mid-file, read the
// right offsets.
func TestFetchSubranges(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"a": 10*testChunkSize + 123, "b/c": 3 * testChunkSize})
	src, err := dirsource.New(dir, verify.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Source: src})
	res := ts.create(t, 0, 0)
	m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
	ranges := []*snapsyncv1.ChunkRange{
		{FileIndex: 1, FirstChunk: 2, ChunkCount: 1},
		{FileIndex: 0, FirstChunk: 7, ChunkCount: 4}, // includes the short last chunk
		{FileIndex: 0, FirstChunk: 0, ChunkCount: 2},
	}
	if _, err := ts.fetch(context.Background(), t, m, &snapsyncv1.FetchChunksRequest{
		SnapshotId: res.GetSnapshot().GetSnapshotId(), Ranges: ranges,
	}); err != nil {
		t.Fatal(err)
	}
}

// writeTree creates files of the given sizes (pseudo-random, compressible
// content) under dir, with their parent directories.
func writeTree(tb testing.TB, dir string, files map[string]int) {
	tb.Helper()
	tree := make(map[string]string, len(files))
	for name, size := range files {
		tree[name] = string(content(name, size))
	}
	testtree.Write(tb, dir, tree)
}

// content is size bytes derived from name: half noise, half text.
func content(name string, size int) []byte {
	b := make([]byte, size)
	x := uint64(len(name)) * 0x9e3779b97f4a7c15
	for _, c := range name {
		x = x*31 + uint64(c)
	}
	for i := range b {
		if i%64 < 32 {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			b[i] = byte(x)
		} else {
			b[i] = "snapsync-test-data "[i%19]
		}
	}
	return b
}
