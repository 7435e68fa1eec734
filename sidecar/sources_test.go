package sidecar

import (
	"context"
	"net"
	"path/filepath"
	"sync"
	"testing"

	"connectrpc.com/connect"
	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/testdb"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// servePeer serves a Pebble checkpoint of db as a peer whose checkpoint
// reflects index.
func servePeer(tb testing.TB, cp string, index uint64) *peer {
	tb.Helper()
	src, err := dirsource.New(cp, verify.Meta{Term: 1, Index: index, CreatedUnixNano: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return startPeer(tb, server.Config{Source: src})
}

func checkpointOf(tb testing.TB, db *pebbledb.DB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "cp")
	if err := db.Checkpoint(dir, pebbledb.WithFlushedWAL()); err != nil {
		tb.Fatal(err)
	}
	return dir
}

func downURL(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return "http://" + ln.Addr().String()
}

func prepareFrom(tb testing.TB, c interface {
	Prepare(context.Context, *connect.Request[snapsyncv1.PrepareRequest]) (*connect.ServerStreamForClient[snapsyncv1.PrepareResponse], error)
}, req *snapsyncv1.PrepareRequest) (*snapsyncv1.SnapshotInfo, error) {
	tb.Helper()
	s, err := c.Prepare(context.Background(), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var last *snapsyncv1.PrepareResponse
	for s.Receive() {
		last = s.Msg()
	}
	if err := s.Err(); err != nil {
		return nil, err
	}
	return last.GetPrepared(), nil
}

// TestPrepareSourceURLs: Prepare with source_urls skips a peer that is down
// and one behind min_index and stages the checkpoint of the peer that
// reaches it; when that peer dies mid-way, the Prepare finishes from the
// next one.
func TestPrepareSourceURLs(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 12<<20)
	cp := checkpointOf(t, leader.DB())
	behind, good, next := servePeer(t, cp, 10), servePeer(t, cp, 100), servePeer(t, cp, 90)
	var (
		mu      sync.Mutex
		written int
	)
	cfg := InstallConfig{}
	cfg.Client.MaxAttempts = 2
	cfg.Client.Hook = func(point string) error {
		if point != "chunk-written" {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if written++; written == 20 {
			good.stop()
		}
		return nil
	}
	l := startLocal(t, cfg, nil)
	dest := filepath.Join(l.root, "db")
	info, err := prepareFrom(t, l.client, &snapsyncv1.PrepareRequest{
		SourceUrls: []string{downURL(t), behind.url, next.url, good.url}, MinIndex: 50, Dest: dest})
	if err != nil {
		t.Fatal(err)
	}
	if info.GetIndex() != 90 {
		t.Fatalf("prepared index %d, want 90 (the peer at 100 died mid-way)", info.GetIndex())
	}
	if got := commit(t, l.client, dest, info.GetSnapshotId()); got.GetIndex() != 90 {
		t.Fatalf("committed index %d", got.GetIndex())
	}
	testdb.CheckSameDB(t, leader.DB(), dest)
	if sent := good.srv.Stats().BytesSent; sent == 0 {
		t.Fatal("the peer at 100 sent nothing: it was not picked first")
	}
}

// TestPrepareSourceURLsRefused: a request naming sources both ways, a
// source or chunk source twice, a bad URL among them, or too many chunk
// sources is refused before anything runs.
func TestPrepareSourceURLsRefused(t *testing.T) {
	t.Parallel()
	l := startLocal(t, InstallConfig{}, nil)
	dest := filepath.Join(l.root, "db")
	for _, req := range []*snapsyncv1.PrepareRequest{
		{SourceUrl: "http://a:1", SourceUrls: []string{"http://b:1"}, Dest: dest},
		{SourceUrls: []string{"http://a:1", "http://a:1/"}, Dest: dest},
		{SourceUrls: []string{"http://a:1", "ftp://b"}, Dest: dest},
		{SourceUrl: "http://a:1", ChunkSources: []string{"s3://bucket"}, Dest: dest},
		{SourceUrl: "http://a:1", ChunkSources: []string{"http://c:1", "http://c:1/"}, Dest: dest},
		{SourceUrl: "http://a:1", ChunkSources: make([]string, maxSources+1), Dest: dest},
	} {
		_, err := prepareFrom(t, l.client, req)
		wantCode(t, err, connect.CodeInvalidArgument)
	}
}

// TestPrepareChunkSources: a Prepare naming a chunk source that holds the
// checkpoint takes its chunks from it, and its progress says how many bytes
// the chunk sources sent.
func TestPrepareChunkSources(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 8<<20)
	cp := checkpointOf(t, leader.DB())
	truth, source := servePeer(t, cp, 100), servePeer(t, cp, 100)
	// A sidecar serves by digest the chunks of the checkpoints it holds.
	if _, err := snapsyncv1connect.NewSnapshotServiceClient(client.NewHTTPClient(), source.url).
		CreateSnapshot(context.Background(), connect.NewRequest(&snapsyncv1.CreateSnapshotRequest{})); err != nil {
		t.Fatal(err)
	}
	l := startLocal(t, InstallConfig{}, nil)
	dest := filepath.Join(l.root, "db")
	s, err := l.client.Prepare(context.Background(), connect.NewRequest(&snapsyncv1.PrepareRequest{
		SourceUrl: truth.url, ChunkSources: []string{source.url}, Dest: dest}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var last *snapsyncv1.PrepareResponse
	for s.Receive() {
		last = s.Msg()
	}
	if err := s.Err(); err != nil {
		t.Fatal(err)
	}
	p := last.GetProgress()
	if last.GetPrepared() == nil || p.GetBytesFetched() == 0 {
		t.Fatalf("last message %v: want a prepared snapshot, fetched", last)
	}
	if p.GetBytesFromSources() != p.GetBytesFetched() {
		t.Errorf("bytes_from_sources %d of %d fetched, want all: the chunk source holds every chunk", p.GetBytesFromSources(), p.GetBytesFetched())
	}
	if sent := truth.srv.Stats().BytesSent; sent != 0 {
		t.Errorf("the source of truth sent %d chunk bytes, want none", sent)
	}
	commit(t, l.client, dest, last.GetPrepared().GetSnapshotId())
	testdb.CheckSameDB(t, leader.DB(), dest)
}
