package e2e

import (
	"context"
	be "encoding/binary"
	"math/rand/v2"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/verify"
)

// hostileChunk is the chunk size of crafted manifests.
const hostileChunk = verify.MinChunkSize

type chunkMsg = snapsyncv1.FetchChunksResponse

// hostilePeer is a SnapshotService serving what a test crafts: manifest bytes
// (valid or not) under a summary that may lie, pages that may lie, chunks
// that may lie, and calls that never answer. Unset hooks behave honestly.
type hostilePeer struct {
	snapsyncv1connect.UnimplementedSnapshotServiceHandler
	manifest []byte
	content  [][]byte // file index -> bytes, for honest chunks
	// info edits the summary CreateSnapshot returns.
	info func(*snapsyncv1.SnapshotInfo)
	// pages sends the manifest (call counts GetManifest calls from 0).
	pages func(call int, b []byte, send func(*snapsyncv1.GetManifestResponse) error) error
	// chunk turns the honest message for a chunk into what is sent.
	chunk func(msg *chunkMsg) []*chunkMsg
	// fetchErr, when set, answers every FetchChunks call.
	fetchErr error
	// stall names the procedure ("CreateSnapshot", "GetManifest",
	// "FetchChunks") that never answers, and drip the one that sends a byte a
	// second after its headers.
	stall, drip string
	calls       atomic.Int32 // GetManifest calls so far
}

var _ snapsyncv1connect.SnapshotServiceHandler = (*hostilePeer)(nil)

func (h *hostilePeer) CreateSnapshot(ctx context.Context, _ *connect.Request[snapsyncv1.CreateSnapshotRequest]) (*connect.Response[snapsyncv1.CreateSnapshotResponse], error) {
	if h.stall == "CreateSnapshot" {
		<-ctx.Done()
		return nil, ctx.Err()
	}
	id := verify.Sum(h.manifest)
	info := &snapsyncv1.SnapshotInfo{SnapshotId: id[:], ManifestSize: uint64(len(h.manifest)), ChunkSize: hostileChunk,
		Term: 1, Index: 7}
	if h.info != nil {
		h.info(info)
	}
	return connect.NewResponse(&snapsyncv1.CreateSnapshotResponse{Snapshot: info, Lease: &snapsyncv1.Lease{LeaseId: "l"}}), nil
}

func (h *hostilePeer) GetManifest(ctx context.Context, _ *connect.Request[snapsyncv1.GetManifestRequest], s *connect.ServerStream[snapsyncv1.GetManifestResponse]) error {
	if h.stall == "GetManifest" {
		<-ctx.Done()
		return ctx.Err()
	}
	call := int(h.calls.Add(1) - 1)
	if h.pages != nil {
		return h.pages(call, h.manifest, s.Send)
	}
	return sendPages(h.manifest, 1<<20, s.Send)
}

// sendPages sends b in honest pages of size bytes.
func sendPages(b []byte, size int, send func(*snapsyncv1.GetManifestResponse) error) error {
	for off := 0; off < len(b); off += size {
		p := &snapsyncv1.GetManifestResponse{Offset: uint64(off), Data: b[off:min(off+size, len(b))], TotalSize: uint64(len(b))}
		if err := send(p); err != nil {
			return err
		}
	}
	return nil
}

func (h *hostilePeer) FetchChunks(ctx context.Context, req *connect.Request[snapsyncv1.FetchChunksRequest], s *connect.ServerStream[snapsyncv1.FetchChunksResponse]) error {
	switch {
	case h.stall == "FetchChunks":
		<-ctx.Done()
		return ctx.Err()
	case h.fetchErr != nil:
		return h.fetchErr
	}
	for _, r := range req.Msg.GetRanges() {
		for c := r.FirstChunk; c < r.FirstChunk+r.ChunkCount; c++ {
			msg := h.honest(r.FileIndex, c)
			out := []*chunkMsg{msg}
			if h.chunk != nil {
				out = h.chunk(msg)
			}
			for _, m := range out {
				if err := s.Send(m); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// honest is the message an honest server sends for chunk c of file.
func (h *hostilePeer) honest(file, c uint32) *chunkMsg {
	var b []byte
	if int(file) < len(h.content) {
		b = h.content[file]
	}
	lo := min(int(c)*hostileChunk, len(b))
	return &chunkMsg{FileIndex: file, ChunkIndex: c, Encoding: snapsyncv1.Encoding_ENCODING_RAW, Data: b[lo:min(lo+hostileChunk, len(b))]}
}

func (h *hostilePeer) RenewLease(context.Context, *connect.Request[snapsyncv1.RenewLeaseRequest]) (*connect.Response[snapsyncv1.RenewLeaseResponse], error) {
	return connect.NewResponse(&snapsyncv1.RenewLeaseResponse{Lease: &snapsyncv1.Lease{LeaseId: "l"}}), nil
}

func (h *hostilePeer) ReleaseLease(context.Context, *connect.Request[snapsyncv1.ReleaseLeaseRequest]) (*connect.Response[snapsyncv1.ReleaseLeaseResponse], error) {
	return connect.NewResponse(&snapsyncv1.ReleaseLeaseResponse{}), nil
}

// serveHostile serves h over h2c on 127.0.0.1 until the test ends and
// returns its base URL. A procedure named in h.drip answers with headers and
// then one byte a second of a message that never completes.
func serveHostile(tb testing.TB, h *hostilePeer) string {
	tb.Helper()
	mux := http.NewServeMux()
	path, handler := snapsyncv1connect.NewSnapshotServiceHandler(h, connect.WithCompression("gzip", nil, nil))
	mux.Handle(path, handler)
	if h.drip != "" {
		mux.HandleFunc(path+h.drip, drip)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	protos.SetHTTP1(true)
	srv := &http.Server{Handler: mux, Protocols: protos}
	go srv.Serve(ln) //nolint:errcheck // ends with ErrServerClosed at cleanup
	tb.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String()
}

// drip answers with headers, then a byte a second of a 1 MiB message, until
// the client goes away.
func drip(w http.ResponseWriter, r *http.Request) {
	ct := "application/proto"
	if r.Header.Get("Content-Type") == "application/connect+proto" {
		ct = "application/connect+proto"
	}
	w.Header().Set("Content-Type", ct)
	w.WriteHeader(http.StatusOK)
	fl := w.(http.Flusher)
	fl.Flush()
	body := be.BigEndian.AppendUint32([]byte{0}, 1<<20)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for i := 0; ; i++ {
		b := byte(0x0a)
		if i < len(body) {
			b = body[i]
		}
		if _, err := w.Write([]byte{b}); err != nil {
			return
		}
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-tick.C:
		}
	}
}

// craftFile is a file of a crafted manifest.
type craftFile struct {
	path string
	size int
}

// craft makes a valid manifest of files (their parent directories added)
// with random content, and that content by file index.
func craft(seed uint64, files ...craftFile) (*verify.Manifest, [][]byte) {
	rng := rand.New(rand.NewPCG(seed, 1))
	m := &verify.Manifest{Meta: verify.Meta{Term: 1, Index: 7, Engine: "pebble"}, ChunkSize: hostileChunk}
	dirs := map[string]bool{}
	var content [][]byte
	for _, cf := range files {
		for d := parentDir(cf.path); d != ""; d = parentDir(d) {
			if !dirs[d] {
				dirs[d] = true
				m.Dirs = append(m.Dirs, verify.Dir{Path: d, Mode: 0o755})
			}
		}
		b := make([]byte, cf.size)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		f := verify.File{Path: cf.path, Size: int64(cf.size), Mode: 0o644, LinkTo: -1}
		for off := 0; off < len(b); off += hostileChunk {
			c := b[off:min(off+hostileChunk, len(b))]
			f.Chunks = append(f.Chunks, verify.Chunk{Length: uint32(len(c)), Digest: verify.Sum(c)})
		}
		m.Files = append(m.Files, f)
		content = append(content, b)
	}
	m.Sort()
	return m, content
}

func parentDir(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return ""
}

// defaultCraft is the manifest most cases start from: two files, one of
// two and a half chunks.
func defaultCraft() (*verify.Manifest, [][]byte) {
	return craft(1, craftFile{"d/a.sst", 2*hostileChunk + 100}, craftFile{"d/b", hostileChunk})
}
