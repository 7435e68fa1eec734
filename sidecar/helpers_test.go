package sidecar

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
	"github.com/cockroachdb/pebble/v2"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testlog"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
	pebblesource "github.com/snapsync/snapsync/source/pebble"
	"github.com/snapsync/snapsync/verify"
)

// testChunkSize gives many chunks from a few MiB of data.
const testChunkSize = 64 << 10

// waitLimit bounds every wait of a test.
const waitLimit = 20 * time.Second

// openLeader opens a Pebble source in a fresh dir holding about size bytes of
// sample data written with seed 1, each checkpoint reflecting term 3, index
// 42.
func openLeader(tb testing.TB, size int64) *pebblesource.Source {
	tb.Helper()
	meta := func(context.Context, *pebble.DB) (verify.Meta, error) {
		return verify.Meta{Term: 3, Index: 42, Engine: "pebble"}, nil
	}
	src, err := pebblesource.Open(filepath.Join(tb.TempDir(), "leader"), testlog.Logger(tb), pebblesource.WithMeta(meta))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := src.Close(); err != nil {
			tb.Error(err)
		}
	})
	ctx := context.Background()
	if _, err := sampledb.Write(ctx, src.DB(), sampledb.Fill{Seed: 1, Bytes: size}); err != nil {
		tb.Fatal(err)
	}
	// Settle the LSM, so that no background compaction makes the next
	// checkpoint's files differ from this one's.
	if err := src.DB().Compact(ctx, sampledb.Key(1, 0)[:12], sampledb.Key(2, 0)[:12], true); err != nil {
		tb.Fatal(err)
	}
	return src
}

// writeDB makes a closed Pebble DB at dir with about size bytes of seed's
// data: a follower's old DB.
func writeDB(tb testing.TB, dir string, seed uint64, size int64) {
	tb.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: sampledb.QuietLogger{}})
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := sampledb.Write(context.Background(), db, sampledb.Fill{Seed: seed, Bytes: size}); err != nil {
		tb.Fatal(err)
	}
	if err := db.Close(); err != nil {
		tb.Fatal(err)
	}
}

// openDB opens the DB at dir read-only, closed at the test's end.
func openDB(tb testing.TB, dir string) *pebble.DB {
	tb.Helper()
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: sampledb.QuietLogger{}})
	if err != nil {
		tb.Fatalf("open db %s: %v", dir, err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// serve serves h on ln until the test ends or stop is called.
func serve(tb testing.TB, ln net.Listener, h http.Handler) (stop func()) {
	tb.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, h) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				tb.Errorf("serve: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// peer is a real leader sidecar: a server.Server behind PeerHandler.
type peer struct {
	url  string
	addr string
	srv  *server.Server
	stop func()
}

// startPeer serves cfg on 127.0.0.1. WorkDir defaults to a temp dir,
// ChunkSize to testChunkSize.
func startPeer(tb testing.TB, cfg server.Config) *peer {
	tb.Helper()
	if cfg.WorkDir == "" {
		cfg.WorkDir = filepath.Join(tb.TempDir(), "work")
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = testChunkSize
	}
	cfg.Logger = testlog.Logger(tb)
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := Listen("127.0.0.1:0", true)
	if err != nil {
		tb.Fatal(err)
	}
	stopServe := serve(tb, ln, PeerHandler(srv.Handler()))
	p := &peer{url: "http://" + ln.Addr().String(), addr: ln.Addr().String(), srv: srv}
	var once sync.Once
	p.stop = func() {
		once.Do(func() {
			if err := srv.Close(); err != nil { // ends running streams first
				tb.Errorf("close server: %v", err)
			}
			stopServe()
		})
	}
	tb.Cleanup(p.stop)
	return p
}

// local is a real follower sidecar's local API on 127.0.0.1.
type local struct {
	url     string
	root    string // the allowed root
	install *InstallService
	client  snapsyncv1connect.InstallServiceClient
}

// startLocal serves an InstallService (AllowedRoots defaults to a fresh temp
// dir) and reg on 127.0.0.1.
func startLocal(tb testing.TB, cfg InstallConfig, reg *RegistryService) *local {
	tb.Helper()
	if len(cfg.AllowedRoots) == 0 {
		cfg.AllowedRoots = []string{tb.TempDir()}
	}
	if cfg.Client.RetryWait == 0 {
		cfg.Client.RetryWait = 10 * time.Millisecond
	}
	cfg.Logger = testlog.Logger(tb)
	install, err := NewInstallService(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := install.Close(); err != nil {
			tb.Error(err)
		}
	})
	ln, err := Listen("127.0.0.1:0", false)
	if err != nil {
		tb.Fatal(err)
	}
	serve(tb, ln, LocalHandler(install, reg))
	url := "http://" + ln.Addr().String()
	return &local{url: url, root: cfg.AllowedRoots[0], install: install,
		client: snapsyncv1connect.NewInstallServiceClient(client.NewHTTPClient(), url)}
}

// prepareStream is a Prepare call under way.
type prepareStream struct {
	stream *connect.ServerStreamForClient[snapsyncv1.PrepareResponse]
	msgs   []*snapsyncv1.PrepareResponse
}

// startPrepare calls Prepare and waits for its first message.
func startPrepare(tb testing.TB, c snapsyncv1connect.InstallServiceClient, source string, minIndex uint64, dest string) *prepareStream {
	tb.Helper()
	s, err := c.Prepare(context.Background(), connect.NewRequest(&snapsyncv1.PrepareRequest{
		SourceUrl: source, MinIndex: minIndex, Dest: dest}))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { s.Close() })
	ps := &prepareStream{stream: s}
	if !s.Receive() {
		tb.Fatalf("prepare: no first message: %v", s.Err())
	}
	ps.msgs = append(ps.msgs, s.Msg())
	return ps
}

// finish reads the stream to its end and returns the prepared snapshot, or
// the stream's error.
func (ps *prepareStream) finish() (*snapsyncv1.SnapshotInfo, error) {
	for ps.stream.Receive() {
		ps.msgs = append(ps.msgs, ps.stream.Msg())
	}
	if err := ps.stream.Err(); err != nil {
		return nil, err
	}
	last := ps.msgs[len(ps.msgs)-1]
	if last.GetPrepared() == nil {
		return nil, errors.New("stream ended without a prepared snapshot")
	}
	return last.GetPrepared(), nil
}

// prepare runs a whole Prepare call.
func prepare(tb testing.TB, c snapsyncv1connect.InstallServiceClient, source string, minIndex uint64, dest string) *snapsyncv1.SnapshotInfo {
	tb.Helper()
	info, err := startPrepare(tb, c, source, minIndex, dest).finish()
	if err != nil {
		tb.Fatalf("prepare: %v", err)
	}
	return info
}

// commit runs Commit.
func commit(tb testing.TB, c snapsyncv1connect.InstallServiceClient, dest string, id []byte) *snapsyncv1.SnapshotInfo {
	tb.Helper()
	resp, err := c.Commit(context.Background(), connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: id}))
	if err != nil {
		tb.Fatalf("commit: %v", err)
	}
	return resp.Msg.GetSnapshot()
}

// status runs Status.
func status(tb testing.TB, c snapsyncv1connect.InstallServiceClient, dest string) *snapsyncv1.StatusResponse {
	tb.Helper()
	resp, err := c.Status(context.Background(), connect.NewRequest(&snapsyncv1.StatusRequest{Dest: dest}))
	if err != nil {
		tb.Fatalf("status: %v", err)
	}
	return resp.Msg
}

// wantCode fails unless err is a Connect error with code.
func wantCode(tb testing.TB, err error, code connect.Code) {
	tb.Helper()
	if err == nil {
		tb.Fatalf("got no error, want %v", code)
	}
	if got := connect.CodeOf(err); got != code {
		tb.Fatalf("got %v (%v), want %v", got, err, code)
	}
}

// exists reports whether p exists.
func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}
