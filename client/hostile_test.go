package client

import (
	"context"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/manifesttest"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/verify"
)

// hostileChunk is the chunk size of crafted manifests.
const hostileChunk = verify.MinChunkSize

// hostile is a SnapshotService serving what a test crafts: manifest bytes
// (valid or not), a summary that may lie, pages that may lie, and chunk
// streams that may break the protocol. Unset hooks behave honestly.
type hostile struct {
	snapsyncv1connect.UnimplementedSnapshotServiceHandler
	manifest []byte
	content  map[int][]byte // file index -> bytes, for honest chunks
	// info edits the summary CreateSnapshot returns.
	info func(*snapsyncv1.SnapshotInfo)
	// pages cuts the manifest into the pages GetManifest sends.
	pages func(b []byte) []*snapsyncv1.GetManifestResponse
	// fetch answers one FetchChunks call (n counts calls from 0); honest
	// is the message the server should send for a chunk.
	fetch func(n int64, req *snapsyncv1.FetchChunksRequest, honest func(file, chunk uint32) *snapsyncv1.FetchChunksResponse,
		send func(*snapsyncv1.FetchChunksResponse) error) error
	fetches atomic.Int64
}

var _ snapsyncv1connect.SnapshotServiceHandler = (*hostile)(nil)

func (h *hostile) CreateSnapshot(context.Context, *connect.Request[snapsyncv1.CreateSnapshotRequest]) (*connect.Response[snapsyncv1.CreateSnapshotResponse], error) {
	id := verify.Sum(h.manifest)
	info := &snapsyncv1.SnapshotInfo{SnapshotId: id[:], ManifestSize: uint64(len(h.manifest)), ChunkSize: hostileChunk}
	if m, err := verify.Decode(h.manifest); err == nil {
		info.Term, info.Index = m.Meta.Term, m.Meta.Index
	}
	if h.info != nil {
		h.info(info)
	}
	return connect.NewResponse(&snapsyncv1.CreateSnapshotResponse{Snapshot: info, Lease: &snapsyncv1.Lease{LeaseId: "l"}}), nil
}

func (h *hostile) GetManifest(_ context.Context, _ *connect.Request[snapsyncv1.GetManifestRequest], s *connect.ServerStream[snapsyncv1.GetManifestResponse]) error {
	pages := pagesOf(h.manifest, 1000)
	if h.pages != nil {
		pages = h.pages(h.manifest)
	}
	for _, p := range pages {
		if err := s.Send(p); err != nil {
			return err
		}
	}
	return nil
}

// pagesOf cuts b into honest pages of size bytes.
func pagesOf(b []byte, size int) []*snapsyncv1.GetManifestResponse {
	var out []*snapsyncv1.GetManifestResponse
	for off := 0; off < len(b); off += size {
		out = append(out, &snapsyncv1.GetManifestResponse{Offset: uint64(off), Data: b[off:min(off+size, len(b))], TotalSize: uint64(len(b))})
	}
	return out
}

func (h *hostile) FetchChunks(_ context.Context, req *connect.Request[snapsyncv1.FetchChunksRequest], s *connect.ServerStream[snapsyncv1.FetchChunksResponse]) error {
	honest := func(file, chunk uint32) *snapsyncv1.FetchChunksResponse {
		b := h.content[int(file)]
		lo := min(int(chunk)*hostileChunk, len(b))
		return &snapsyncv1.FetchChunksResponse{FileIndex: file, ChunkIndex: chunk, Encoding: snapsyncv1.Encoding_ENCODING_RAW,
			Data: b[lo:min(lo+hostileChunk, len(b))]}
	}
	n := h.fetches.Add(1) - 1
	if h.fetch != nil {
		return h.fetch(n, req.Msg, honest, s.Send)
	}
	return sendHonest(req.Msg, honest, s.Send)
}

func sendHonest(req *snapsyncv1.FetchChunksRequest, honest func(uint32, uint32) *snapsyncv1.FetchChunksResponse, send func(*snapsyncv1.FetchChunksResponse) error) error {
	for _, r := range req.GetRanges() {
		for c := r.FirstChunk; c < r.FirstChunk+r.ChunkCount; c++ {
			if err := send(honest(r.FileIndex, c)); err != nil {
				return err
			}
		}
	}
	return nil
}

func (h *hostile) RenewLease(context.Context, *connect.Request[snapsyncv1.RenewLeaseRequest]) (*connect.Response[snapsyncv1.RenewLeaseResponse], error) {
	return connect.NewResponse(&snapsyncv1.RenewLeaseResponse{Lease: &snapsyncv1.Lease{LeaseId: "l"}}), nil
}

func (h *hostile) ReleaseLease(context.Context, *connect.Request[snapsyncv1.ReleaseLeaseRequest]) (*connect.Response[snapsyncv1.ReleaseLeaseResponse], error) {
	return connect.NewResponse(&snapsyncv1.ReleaseLeaseResponse{}), nil
}

// serveHostile serves h over h2c on 127.0.0.1 until the test ends and
// returns its base URL.
func serveHostile(tb testing.TB, h *hostile) string {
	tb.Helper()
	mux := http.NewServeMux()
	mux.Handle(snapsyncv1connect.NewSnapshotServiceHandler(h, connect.WithCompression("gzip", nil, nil)))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	serveUntilCleanup(tb, ln, mux)
	return "http://" + ln.Addr().String()
}

// craftFile is a file of a crafted tree.
type craftFile struct {
	path   string
	size   int
	linkTo int
}

// craft builds a valid manifest over random content: the listed files (and
// their parent dirs), with hostileChunk chunks.
func craft(files ...craftFile) (*verify.Manifest, map[int][]byte) {
	rng := rand.New(rand.NewPCG(1, 2))
	m := &verify.Manifest{Meta: verify.Meta{Term: 1, Index: 9, Engine: "test"}, ChunkSize: hostileChunk}
	content := make(map[int][]byte)
	dirs := make(map[string]bool)
	sort.Slice(files, func(i, j int) bool { return files[i].path < files[j].path })
	for i, f := range files {
		b := make([]byte, f.size)
		for k := range b {
			b[k] = byte(rng.Uint32())
		}
		if f.linkTo >= 0 {
			b = content[f.linkTo]
		}
		content[i] = b
		vf := verify.File{Path: f.path, Size: int64(len(b)), Mode: 0o644, LinkTo: f.linkTo}
		for off := 0; off < len(b); off += hostileChunk {
			c := b[off:min(off+hostileChunk, len(b))]
			vf.Chunks = append(vf.Chunks, verify.Chunk{Length: uint32(len(c)), Digest: verify.Sum(c)})
		}
		m.Files = append(m.Files, vf)
		for d := filepath.Dir(f.path); d != "."; d = filepath.Dir(d) {
			dirs[filepath.ToSlash(d)] = true
		}
	}
	for d := range dirs {
		m.Dirs = append(m.Dirs, verify.Dir{Path: d, Mode: 0o755})
	}
	sort.Slice(m.Dirs, func(i, j int) bool { return m.Dirs[i].Path < m.Dirs[j].Path })
	return m, content
}

// defaultCraft is the valid tree most cases start from: two multi-chunk
// files, one in a subdirectory, and a hard link to one of them.
func defaultCraft() (*verify.Manifest, map[int][]byte) {
	return craft(craftFile{"a.sst", 3*hostileChunk + 100, -1}, craftFile{"d/b", 2 * hostileChunk, -1},
		craftFile{"d/c", 3*hostileChunk + 100, 0})
}

// outsideStaging returns the parent dir's tree without the staging area: what
// an install must leave as it was when it fails.
func outsideStaging(tb testing.TB, parent string) map[string]string {
	tb.Helper()
	out := readTree(tb, parent)
	for k := range out {
		if k == ".snapsync-db" || strings.HasPrefix(k, ".snapsync-db"+string(filepath.Separator)) {
			delete(out, k)
		}
	}
	return out
}

func TestEncodeRawMatchesEncode(t *testing.T) {
	t.Parallel()
	m, _ := defaultCraft()
	want, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if got := manifesttest.EncodeRaw(m); string(got) != string(want) {
		t.Fatal("encodeRaw differs from verify's canonical encoding: hostile manifests would test nothing")
	}
}
