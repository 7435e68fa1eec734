package server

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/klauspost/compress/zstd"
	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	"github.com/snapsync/snapsync/metrics"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

func TestParseDigests(t *testing.T) {
	t.Parallel()
	d := verify.Sum([]byte("x"))
	many := make([][]byte, MaxDigestsPerRequest+1)
	for i := range many {
		many[i] = d[:]
	}
	testCases := []struct {
		name    string
		digests [][]byte
		wantErr string // "" for none
	}{
		{"none", nil, ""},
		{"one", [][]byte{d[:]}, ""},
		{"the most", many[:MaxDigestsPerRequest], ""},
		{"one too many", many, "4097 digests, at most 4096"},
		{"short", [][]byte{d[:], d[:31]}, "digests[1]"},
		{"long", [][]byte{append(d[:], 0)}, "digests[0]"},
		{"empty", [][]byte{{}}, "digests[0]"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ds, err := parseDigests(tc.digests)
			if tc.wantErr == "" {
				if err != nil || len(ds) != len(tc.digests) {
					t.Fatalf("got %d digests, %v; want %d", len(ds), err, len(tc.digests))
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) || code(err) != connect.CodeInvalidArgument {
				t.Fatalf("got %v, want InvalidArgument %q", err, tc.wantErr)
			}
		})
	}
}

// code is the Connect code the handler's error maps to.
func code(err error) connect.Code { c, _, _ := classify(err); return c }

// TestByDigestBadRequest: both RPCs refuse a bad batch with InvalidArgument
// over the wire.
func TestByDigestBadRequest(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{Source: dirSource(t, map[string]int{"a": 10})})
	bad := [][]byte{make([]byte, 31)}
	_, err := ts.client.HasChunks(context.Background(), connect.NewRequest(&snapsyncv1.HasChunksRequest{Digests: bad}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "digests[0]") {
		t.Errorf("HasChunks: %v, want InvalidArgument on digests[0]", err)
	}
	_, err = fetchByDigest(t, ts.client, nil, bad)
	if connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Errorf("FetchByDigest: %v, want InvalidArgument", err)
	}
}

// dirSource is a dir source over a fresh tree of files.
func dirSource(tb testing.TB, files map[string]int) *dirsource.Source {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "src")
	writeTree(tb, dir, files)
	src, err := dirsource.New(dir, verify.Meta{Index: 10})
	if err != nil {
		tb.Fatal(err)
	}
	return src
}

// digestsOf returns the digests of m's chunks, each once, and their bytes'
// lengths.
func digestsOf(m *verify.Manifest) ([]verify.Digest, map[verify.Digest]uint32) {
	var ds []verify.Digest
	lens := make(map[verify.Digest]uint32)
	for _, f := range m.Files {
		for _, c := range f.Chunks {
			if _, ok := lens[c.Digest]; !ok {
				ds = append(ds, c.Digest)
				lens[c.Digest] = c.Length
			}
		}
	}
	return ds, lens
}

func raw(ds []verify.Digest) [][]byte {
	b := make([][]byte, len(ds))
	for i := range ds {
		b[i] = ds[i][:]
	}
	return b
}

// hasChunks asks which of ds c has.
func hasChunks(tb testing.TB, c snapsyncv1connect.SnapshotServiceClient, ds []verify.Digest) []bool {
	tb.Helper()
	res, err := c.HasChunks(context.Background(), connect.NewRequest(&snapsyncv1.HasChunksRequest{Digests: raw(ds), Client: tb.Name()}))
	if err != nil {
		tb.Fatalf("HasChunks: %v", err)
	}
	bits := res.Msg.GetHave()
	if len(bits) != (len(ds)+7)/8 {
		tb.Fatalf("bitmap of %d bytes for %d digests", len(bits), len(ds))
	}
	have := make([]bool, len(ds))
	for i := range ds {
		have[i] = bits[i/8]&(1<<(i%8)) != 0
	}
	return have
}

// fetchByDigest fetches digests (ds, or bad when not nil) and returns the
// chunks sent by their index in the request, checking that each is sent
// once, in order, and decodes to bytes that hash to its digest.
func fetchByDigest(tb testing.TB, c snapsyncv1connect.SnapshotServiceClient, ds []verify.Digest, bad [][]byte, opts ...snapsyncv1.Compression) (map[uint32][]byte, error) {
	tb.Helper()
	req := &snapsyncv1.FetchByDigestRequest{Digests: raw(ds)}
	if bad != nil {
		req.Digests = bad
	}
	if len(opts) > 0 {
		req.Compression = opts[0]
	}
	st, err := c.FetchByDigest(context.Background(), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		tb.Fatal(err)
	}
	defer dec.Close()
	got := make(map[uint32][]byte)
	next := uint32(0)
	for st.Receive() {
		msg := st.Msg()
		i := msg.GetIndex()
		if i < next || int(i) >= len(ds) {
			tb.Fatalf("index %d out of order or range (next %d of %d)", i, next, len(ds))
		}
		next = i + 1
		data := msg.GetData()
		if msg.GetEncoding() == snapsyncv1.Encoding_ENCODING_ZSTD {
			if data, err = dec.DecodeAll(data, nil); err != nil {
				tb.Fatalf("chunk %d: %v", i, err)
			}
		}
		if verify.Sum(data) != ds[i] {
			tb.Fatalf("chunk %d: wrong bytes sent for %s", i, ds[i].Short())
		}
		got[i] = bytes.Clone(data)
	}
	return got, st.Err()
}

// TestByDigestCheckpoint: a checkpoint's chunks are served by digest while
// it is held, each read again and hashed: a chunk whose file changed since
// the manifest was built is left out, and a checkpoint released is no
// longer a source.
func TestByDigestCheckpoint(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{Source: dirSource(t, map[string]int{"a.sst": 300 << 10, "sub/b.sst": 100 << 10, "c.log": 7})})
	res := ts.create(t, 0, 0)
	m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
	ds, _ := digestsOf(m)
	unknown := verify.Sum([]byte("not a chunk of it"))
	ask := append([]verify.Digest{unknown}, ds...)
	for i, ok := range hasChunks(t, ts.client, ask) {
		if ok != (i > 0) {
			t.Errorf("HasChunks[%d] = %v", i, ok)
		}
	}
	for _, comp := range []snapsyncv1.Compression{snapsyncv1.Compression_COMPRESSION_NONE, snapsyncv1.Compression_COMPRESSION_ZSTD} {
		got, err := fetchByDigest(t, ts.client, ask, nil, comp)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(ds) || got[0] != nil {
			t.Fatalf("%v: %d chunks sent, want %d (not the unknown one)", comp, len(got), len(ds))
		}
	}

	// Change a.sst in the checkpoint, keeping its size: its chunks are
	// misses, the others still come.
	id, _ := verify.DigestFromBytes(res.GetSnapshot().GetSnapshotId())
	path := filepath.Join(ts.srv.catalog.byID[id].dir, "a.sst")
	changed := m.Files[fileIndex(t, m, "a.sst")].Chunks
	if err := os.WriteFile(path, make([]byte, 300<<10), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := fetchByDigest(t, ts.client, ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if want := len(ds) - len(changed); len(got) != want {
		t.Errorf("%d chunks sent after a.sst changed, want %d", len(got), want)
	}

	if _, err := ts.client.ReleaseLease(context.Background(), connect.NewRequest(&snapsyncv1.ReleaseLeaseRequest{LeaseId: res.GetLease().GetLeaseId()})); err != nil {
		t.Fatal(err)
	}
	for i, ok := range hasChunks(t, ts.client, ds) {
		if ok {
			t.Fatalf("HasChunks[%d] after the checkpoint was released", i)
		}
	}
}

func fileIndex(tb testing.TB, m *verify.Manifest, path string) int {
	tb.Helper()
	for i, f := range m.Files {
		if f.Path == path {
			return i
		}
	}
	tb.Fatalf("no %s in the manifest", path)
	return -1
}

// TestByDigestStaged: the chunks an install registers (StagedChunks) are
// served until Reset; one whose staged file changed is a miss.
func TestByDigestStaged(t *testing.T) {
	t.Parallel()
	staged := NewStagedChunks(0)
	ts := startServer(t, Config{Source: dirSource(t, map[string]int{"a": 1}), Staged: staged})
	dir := t.TempDir()
	var ds []verify.Digest
	for i := range 3 {
		data := content(fmt.Sprint("staged", i), 50<<10+i)
		path := filepath.Join(dir, fmt.Sprint("f", i))
		if err := os.WriteFile(path, append(make([]byte, 100), data...), 0o644); err != nil {
			t.Fatal(err)
		}
		d := verify.Sum(data)
		staged.Add(d, path, 100, uint32(len(data)))
		ds = append(ds, d)
	}
	for i, ok := range hasChunks(t, ts.client, ds) {
		if !ok {
			t.Errorf("HasChunks[%d] = false", i)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "f1"), make([]byte, 100+50<<10+1), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := fetchByDigest(t, ts.client, ds, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[1] != nil {
		t.Errorf("sent %d chunks, want 2 (f1 changed)", len(got))
	}
	staged.Reset()
	for i, ok := range hasChunks(t, ts.client, ds) {
		if ok {
			t.Errorf("HasChunks[%d] after Reset", i)
		}
	}
}

// TestStagedChunksBound: beyond its bound the registry drops its oldest.
func TestStagedChunksBound(t *testing.T) {
	t.Parallel()
	r := NewStagedChunks(2)
	d := func(i int) verify.Digest { return verify.Sum([]byte{byte(i)}) }
	for i := range 3 {
		r.Add(d(i), "/staged", int64(i), 1)
	}
	r.Add(d(2), "/staged", 2, 1) // again: no new entry
	if r.Len() != 2 || r.has(d(0)) || !r.has(d(1)) || !r.has(d(2)) {
		t.Errorf("len %d, has 0/1/2 = %v %v %v; want 2, false true true", r.Len(), r.has(d(0)), r.has(d(1)), r.has(d(2)))
	}
}

// FuzzDigestRequest: any bytes as a HasChunks or FetchByDigest request
// decode to an error or digests of 32 bytes, at most 4096, never a panic.
func FuzzDigestRequest(f *testing.F) {
	d := verify.Sum([]byte("x"))
	for _, req := range []proto.Message{
		&snapsyncv1.HasChunksRequest{Digests: [][]byte{d[:]}, Client: "c"},
		&snapsyncv1.FetchByDigestRequest{Digests: [][]byte{d[:], d[:5]}, Compression: snapsyncv1.Compression_COMPRESSION_ZSTD},
	} {
		b, err := proto.Marshal(req)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var req snapsyncv1.FetchByDigestRequest
		if proto.Unmarshal(b, &req) != nil {
			return
		}
		ds, err := parseDigests(req.GetDigests())
		if err != nil {
			if code(err) != connect.CodeInvalidArgument {
				t.Fatalf("error %v is not InvalidArgument", err)
			}
			return
		}
		if len(ds) != len(req.GetDigests()) || len(ds) > MaxDigestsPerRequest {
			t.Fatalf("%d digests from %d", len(ds), len(req.GetDigests()))
		}
	})
}

// TestFetchByDigestStreamSlots: a FetchByDigest stream takes one of the
// MaxStreams slots FetchChunks streams take; with none free it is refused.
func TestFetchByDigestStreamSlots(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{Source: dirSource(t, map[string]int{"a": 10}), MaxStreams: 1})
	ts.srv.streams <- struct{}{} // a FetchChunks stream runs
	_, err := fetchByDigest(t, ts.client, []verify.Digest{verify.Sum(nil)}, nil)
	if connect.CodeOf(err) != connect.CodeResourceExhausted {
		t.Errorf("with no slot free: %v, want ResourceExhausted", err)
	}
	<-ts.srv.streams
	if _, err := fetchByDigest(t, ts.client, []verify.Digest{verify.Sum(nil)}, nil); err != nil {
		t.Errorf("with a slot free: %v", err)
	}
}

// TestByDigestMetrics: HasChunks calls and answers, and the chunks and
// bytes FetchByDigest sends, are counted.
func TestByDigestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, false)
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Source: dirSource(t, map[string]int{"a": 100 << 10}), Metrics: m})
	res := ts.create(t, 0, 0)
	ds, lens := digestsOf(ts.manifest(t, res.GetSnapshot().GetSnapshotId()))
	hasChunks(t, ts.client, append(ds, verify.Sum(nil)))
	if _, err := fetchByDigest(t, ts.client, ds, nil, snapsyncv1.Compression_COMPRESSION_NONE); err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, n := range lens {
		total += float64(n)
	}
	for name, want := range map[string]float64{
		"snapsync_server_has_chunks_calls_total":                      1,
		`snapsync_server_has_chunks_digests_total{result="have"}`:     float64(len(ds)),
		`snapsync_server_has_chunks_digests_total{result="missing"}`:  1,
		`snapsync_server_by_digest_chunks_sent_total{encoding="raw"}`: float64(len(ds)),
		"snapsync_server_by_digest_read_bytes_total":                  total,
		"snapsync_server_by_digest_sent_bytes_total":                  total,
	} {
		if got := gathered(t, reg, name); got != want {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
}

// gathered returns the value of the counter name (with one label as
// name{label="value"}) on reg.
func gathered(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	base, label, _ := strings.Cut(strings.TrimSuffix(name, "}"), "{")
	for _, mf := range mfs {
		if mf.GetName() != base {
			continue
		}
		for _, mt := range mf.GetMetric() {
			if label == "" || len(mt.GetLabel()) == 1 && fmt.Sprintf("%s=%q", mt.GetLabel()[0].GetName(), mt.GetLabel()[0].GetValue()) == label {
				return mt.GetCounter().GetValue()
			}
		}
	}
	return -1
}
