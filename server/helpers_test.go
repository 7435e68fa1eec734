package server

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jonboulle/clockwork"
	"github.com/klauspost/compress/zstd"

	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/internal/testwait"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	pebblesource "github.com/snapsync/snapsync/source/pebble"
	"github.com/snapsync/snapsync/verify"
)

// testChunkSize gives many chunks from a few MiB of data.
const testChunkSize = 64 << 10

// openPebble opens a Pebble source at a fresh dir holding about size bytes of
// sample data (values compress about 2:1).
func openPebble(tb testing.TB, size int64) *pebblesource.Source {
	tb.Helper()
	src, err := pebblesource.Open(filepath.Join(tb.TempDir(), "db"), testlog.Logger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := src.Close(); err != nil {
			tb.Error(err)
		}
	})
	if size > 0 {
		if _, err := sampledb.Write(context.Background(), src.DB(), sampledb.Fill{Seed: 1, Bytes: size}); err != nil {
			tb.Fatal(err)
		}
	}
	return src
}

// testServer is a Server listening on 127.0.0.1 with a client to it.
type testServer struct {
	srv    *Server
	cfg    Config
	url    string
	client snapsyncv1connect.SnapshotServiceClient
	stop   func()
}

// startServer starts a server for cfg (WorkDir defaults to a temp dir,
// ChunkSize to testChunkSize) and stops it at cleanup.
func startServer(tb testing.TB, cfg Config) *testServer {
	tb.Helper()
	if cfg.WorkDir == "" {
		cfg.WorkDir = filepath.Join(tb.TempDir(), "work")
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = testChunkSize
	}
	cfg.Logger = testlog.Logger(tb)
	srv, err := New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	addr, stopServe := serveLoopback(tb, srv.Handler())
	ts := &testServer{srv: srv, cfg: cfg, url: "http://" + addr}
	ts.client = newTestClient(ts.url)
	stopped := false
	ts.stop = func() {
		if stopped {
			return
		}
		stopped = true
		stopServe()
		if err := srv.Close(); err != nil {
			tb.Errorf("close: %v", err)
		}
	}
	tb.Cleanup(ts.stop)
	return ts
}

// serveLoopback serves h (Serve, with opts) on a new listener on 127.0.0.1
// and returns its address and a stop that shuts it down and reports Serve's
// error; stop runs at cleanup too (a second call does nothing).
func serveLoopback(tb testing.TB, h http.Handler, opts ...ServeOption) (string, func()) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, ln, h, opts...) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("serve: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return ln.Addr().String(), stop
}

// newTestClient speaks h2c with large windows and refuses gzip, as the
// snapsync client does.
func newTestClient(url string, opts ...connect.ClientOption) snapsyncv1connect.SnapshotServiceClient {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p, HTTP2: &http.HTTP2Config{
		MaxReceiveBufferPerStream: 16 << 20, MaxReceiveBufferPerConnection: 16 << 20,
	}}
	return snapsyncv1connect.NewSnapshotServiceClient(&http.Client{Transport: tr}, url,
		append([]connect.ClientOption{connect.WithAcceptCompression("gzip", nil, nil)}, opts...)...)
}

func (ts *testServer) create(tb testing.TB, minIndex uint64, ttlMs uint32) *snapsyncv1.CreateSnapshotResponse {
	tb.Helper()
	res, err := ts.client.CreateSnapshot(context.Background(), connect.NewRequest(&snapsyncv1.CreateSnapshotRequest{
		MinIndex: minIndex, LeaseTtlMs: ttlMs, Client: tb.Name(),
	}))
	if err != nil {
		tb.Fatalf("CreateSnapshot: %v", err)
	}
	return res.Msg
}

// manifest fetches and verifies the manifest of id.
func (ts *testServer) manifest(tb testing.TB, id []byte) *verify.Manifest {
	tb.Helper()
	b, err := ts.manifestBytes(id)
	if err != nil {
		tb.Fatalf("GetManifest: %v", err)
	}
	d, err := verify.DigestFromBytes(id)
	if err != nil {
		tb.Fatal(err)
	}
	m, err := verify.DecodeVerified(d, b)
	if err != nil {
		tb.Fatalf("manifest does not verify: %v", err)
	}
	return m
}

func (ts *testServer) manifestBytes(id []byte) ([]byte, error) {
	st, err := ts.client.GetManifest(context.Background(), connect.NewRequest(&snapsyncv1.GetManifestRequest{SnapshotId: id}))
	if err != nil {
		return nil, err
	}
	defer st.Close()
	var b []byte
	for st.Receive() {
		if st.Msg().GetOffset() != uint64(len(b)) {
			return nil, errors.New("page out of order")
		}
		b = append(b, st.Msg().GetData()...)
		if st.Msg().GetTotalSize() < uint64(len(b)) {
			return nil, errors.New("pages exceed total_size")
		}
	}
	return b, st.Err()
}

// fetched counts what one FetchChunks stream returned.
type fetched struct {
	chunks, zstd int
	raw, wire    int64
}

// fetch requests ranges and checks every chunk against m: decoded length
// and digest, and that each named chunk comes exactly once.
func (ts *testServer) fetch(ctx context.Context, tb testing.TB, m *verify.Manifest, req *snapsyncv1.FetchChunksRequest) (fetched, error) {
	tb.Helper()
	st, err := ts.client.FetchChunks(ctx, connect.NewRequest(req))
	if err != nil {
		return fetched{}, err
	}
	defer st.Close()
	dec, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1))
	if err != nil {
		tb.Fatal(err)
	}
	defer dec.Close()
	want := make(map[[2]uint32]bool)
	for _, r := range req.GetRanges() {
		for j := r.GetFirstChunk(); j < r.GetFirstChunk()+r.GetChunkCount(); j++ {
			want[[2]uint32{r.GetFileIndex(), j}] = true
		}
	}
	var f fetched
	for st.Receive() {
		msg := st.Msg()
		key := [2]uint32{msg.GetFileIndex(), msg.GetChunkIndex()}
		if !want[key] {
			tb.Fatalf("chunk %v not asked for or sent twice", key)
		}
		delete(want, key)
		if m == nil {
			tb.Fatalf("chunk %v sent for a request expected to fail", key)
		}
		data := msg.GetData()
		if msg.GetEncoding() == snapsyncv1.Encoding_ENCODING_ZSTD {
			if data, err = dec.DecodeAll(data, nil); err != nil {
				tb.Fatalf("chunk %v: %v", key, err)
			}
			f.zstd++
		} else if msg.GetEncoding() != snapsyncv1.Encoding_ENCODING_RAW {
			tb.Fatalf("chunk %v: encoding %v", key, msg.GetEncoding())
		}
		c := m.Files[key[0]].Chunks[key[1]]
		if len(data) != int(c.Length) {
			tb.Fatalf("chunk %v: %d bytes, want %d", key, len(data), c.Length)
		}
		if err := verify.CheckDigest("chunk", c.Digest, verify.Sum(data)); err != nil {
			tb.Fatalf("chunk %v: %v", key, err)
		}
		f.chunks++
		f.raw += int64(len(data))
		f.wire += int64(len(msg.GetData()))
	}
	if err := st.Err(); err != nil {
		return f, err
	}
	if len(want) != 0 {
		tb.Fatalf("%d chunks asked for were not sent", len(want))
	}
	return f, nil
}

// allRanges names every chunk of every file that leads its hard-link group.
func allRanges(m *verify.Manifest) []*snapsyncv1.ChunkRange {
	var rs []*snapsyncv1.ChunkRange
	for i, f := range m.Files {
		if f.LinkTo < 0 && len(f.Chunks) > 0 {
			rs = append(rs, &snapsyncv1.ChunkRange{FileIndex: uint32(i), ChunkCount: uint32(len(f.Chunks))})
		}
	}
	return rs
}

// entry returns the catalog entry of id, or nil.
func (ts *testServer) entry(id verify.Digest) *entry {
	ts.srv.catalog.mu.Lock()
	defer ts.srv.catalog.mu.Unlock()
	return ts.srv.catalog.byID[id]
}

func codeOfErr(err error) connect.Code {
	if err == nil {
		return 0
	}
	return connect.CodeOf(err)
}

// treeNames lists the entries directly in dir.
func treeNames(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// advance moves the server's fake clock by d once its sweeper waits on it,
// and lets the sweeper run at the new time.
func (ts *testServer) advance(tb testing.TB, d time.Duration) {
	tb.Helper()
	fc, ok := ts.cfg.Clock.(*clockwork.FakeClock)
	if !ok {
		tb.Fatal("advance needs a server with a clockwork.FakeClock")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := fc.BlockUntilContext(ctx, 1); err != nil { // the sweeper's ticker
		tb.Fatalf("the sweeper never waited on the clock: %v", err)
	}
	fc.Advance(d)
}

// waitGone waits until the sweeper, woken by a clock move, has removed dir:
// the wait is for another goroutine's work, not for time to pass.
func (ts *testServer) waitGone(tb testing.TB, dir string) {
	tb.Helper()
	testwait.Eventually(tb, 10*time.Second, func() (bool, string) {
		_, err := os.Stat(dir)
		return errors.Is(err, os.ErrNotExist), dir + " still there after its lease expired"
	})
}
