package client

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/server"
	pebblesource "github.com/snapsync/snapsync/source/pebble"
)

// testChunkSize gives many chunks from a few MiB of data.
const testChunkSize = 64 << 10

// openLeader opens a Pebble source in a fresh dir holding about size bytes of
// sample data written with seed 1.
func openLeader(tb testing.TB, size int64) *pebblesource.Source {
	tb.Helper()
	src, err := pebblesource.Open(filepath.Join(tb.TempDir(), "leader"), testlog.Logger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := src.Close(); err != nil {
			tb.Error(err)
		}
	})
	writeData(tb, src, 1, size)
	return src
}

// writeData writes about size bytes of sample data with seed through the
// leader's owner, then compacts the seed's keys so that no background
// compaction rewrites the files later: each seed's keys are a range of their
// own, so the next seed's files join the LSM without rewriting these.
func writeData(tb testing.TB, src *pebblesource.Source, seed uint64, size int64) {
	tb.Helper()
	ctx := context.Background()
	if _, err := sampledb.Write(ctx, src.DB(), sampledb.Fill{Seed: seed, Bytes: size}); err != nil {
		tb.Fatal(err)
	}
	if err := src.DB().Compact(ctx, sampledb.Key(seed, 0)[:12], sampledb.Key(seed+1, 0)[:12], true); err != nil {
		tb.Fatal(err)
	}
}

// testServer is a real snapsync server on 127.0.0.1.
type testServer struct {
	url  string
	addr string
	stop func()
}

// startServer serves cfg on an ephemeral port of 127.0.0.1 (or on addr) until
// stop or the test's end. WorkDir defaults to a temp dir, ChunkSize to
// testChunkSize, ReuseWithin to "never".
func startServer(tb testing.TB, cfg server.Config, addr string) *testServer {
	tb.Helper()
	if cfg.WorkDir == "" {
		cfg.WorkDir = filepath.Join(tb.TempDir(), "work")
	}
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = testChunkSize
	}
	if cfg.ReuseWithin == 0 {
		cfg.ReuseWithin = -1
	}
	cfg.Logger = testlog.Logger(tb)
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := listen(addr)
	if err != nil {
		tb.Fatal(err)
	}
	stop := serveUntilCleanup(tb, ln, srv.Handler())
	ts := &testServer{url: "http://" + ln.Addr().String(), addr: ln.Addr().String()}
	ts.stop = func() {
		stop()
		if err := srv.Close(); err != nil {
			tb.Errorf("close server: %v", err)
		}
	}
	tb.Cleanup(ts.stop)
	return ts
}

// serveUntilCleanup serves h on ln (h2c, as server.Serve does) until the
// returned stop or the test's end, whichever comes first. Stopping is abrupt:
// a graceful HTTP/2 shutdown may wait a second for a client that already left.
func serveUntilCleanup(tb testing.TB, ln net.Listener, h http.Handler) (stop func()) {
	tb.Helper()
	hs := server.NewHTTPServer(h)
	done := make(chan error, 1)
	go func() { done <- hs.Serve(ln) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			if err := hs.Close(); err != nil {
				tb.Errorf("close http server: %v", err)
			}
			if err := <-done; !errors.Is(err, http.ErrServerClosed) {
				tb.Errorf("serve: %v", err)
			}
		})
	}
	tb.Cleanup(stop)
	return stop
}

// listen retries briefly: a port just released may still be busy.
func listen(addr string) (net.Listener, error) {
	var err error
	for range 50 {
		var ln net.Listener
		if ln, err = net.Listen("tcp", addr); err == nil {
			return ln, nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return nil, err
}

// testConfig is a client Config for dest with quick retries.
func testConfig(tb testing.TB, dest string) Config {
	return Config{Dest: dest, RetryWait: 10 * time.Millisecond, MaxAttempts: 5, Logger: testlog.Logger(tb)}
}

// readTree returns every regular file below root by relative path, and the
// symlinks and dirs as markers, to compare trees byte for byte.
func readTree(tb testing.TB, root string) map[string]string {
	tb.Helper()
	out := make(map[string]string)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == root {
			return filepath.SkipAll
		}
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		switch {
		case d.IsDir():
			out[rel] = "<dir>"
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = string(b)
		default:
			out[rel] = "<" + d.Type().String() + ">"
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// sameTree fails unless two readTree results are equal.
func sameTree(tb testing.TB, want, got map[string]string) {
	tb.Helper()
	if len(want) != len(got) {
		var extra, missing []string
		for k := range got {
			if _, ok := want[k]; !ok {
				extra = append(extra, k)
			}
		}
		for k := range want {
			if _, ok := got[k]; !ok {
				missing = append(missing, k)
			}
		}
		tb.Fatalf("tree has %d entries, want %d: extra %q, missing %q", len(got), len(want), extra, missing)
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || !bytes.Equal([]byte(g), []byte(v)) {
			tb.Fatalf("tree entry %s differs", k)
		}
	}
}
