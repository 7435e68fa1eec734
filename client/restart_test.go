package client

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// killableServer is a real server whose death is abrupt: kill closes every
// connection at once, mid-stream, then closes the server; start brings a new
// one up on the same address over the same work dir, as a restarted sidecar.
type killableServer struct {
	tb   testing.TB
	cfg  server.Config
	addr string
	mu   sync.Mutex
	srv  *server.Server
	hs   *http.Server
	done chan error
}

func startKillable(tb testing.TB, cfg server.Config) *killableServer {
	tb.Helper()
	cfg.WorkDir = filepath.Join(tb.TempDir(), "work")
	cfg.ChunkSize = testChunkSize
	cfg.Logger = testlog.Logger(tb)
	k := &killableServer{tb: tb, cfg: cfg, addr: "127.0.0.1:0"}
	if err := k.start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(k.kill)
	return k
}

func (k *killableServer) url() string { return "http://" + k.addr }

func (k *killableServer) start() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	srv, err := server.New(context.Background(), k.cfg)
	if err != nil {
		return err
	}
	ln, err := listen(k.addr)
	if err != nil {
		return errors.Join(err, srv.Close())
	}
	k.addr = ln.Addr().String()
	k.srv, k.hs, k.done = srv, server.NewHTTPServer(srv.Handler()), make(chan error, 1)
	go func(hs *http.Server, done chan error) { done <- hs.Serve(ln) }(k.hs, k.done)
	return nil
}

// kill drops every connection, then closes the server; a no-op when down.
func (k *killableServer) kill() {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.srv == nil {
		return
	}
	if err := k.hs.Close(); err != nil {
		k.tb.Errorf("close http server: %v", err)
	}
	if err := <-k.done; !errors.Is(err, http.ErrServerClosed) {
		k.tb.Errorf("serve: %v", err)
	}
	if err := k.srv.Close(); err != nil {
		k.tb.Errorf("close server: %v", err)
	}
	k.srv = nil
}

// TestServerDiesMidStream kills the server while chunks stream and brings it
// back on the same address after a while: the client's streams retry with
// backoff, carry on from the chunks they lacked, and the install succeeds.
func TestServerDiesMidStream(t *testing.T) {
	t.Parallel()
	root := randomTree(t, 10, 1<<20)
	src, err := dirsource.New(root, verify.Meta{Index: 1})
	if err != nil {
		t.Fatal(err)
	}
	// 8 MiB/s after the server's 4 MiB burst: the kill, past 5 MiB, is mid-stream.
	k := startKillable(t, server.Config{Source: src, Compression: server.CompressionNone, RateLimit: 8 << 20})
	dest := filepath.Join(t.TempDir(), "db")
	cfg := testConfig(t, dest)
	cfg.RetryWait, cfg.MaxAttempts = 40*time.Millisecond, 8
	var once sync.Once
	restarted := make(chan error, 1)
	var killedAt int64
	cfg.Progress = func(p Progress) {
		if p.BytesFetched < 5<<20 {
			return
		}
		once.Do(func() {
			killedAt = p.BytesFetched
			k.kill()
			go func() {
				time.Sleep(300 * time.Millisecond)
				restarted <- k.start()
			}()
		})
	}
	res, err := Install(context.Background(), k.url(), 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-restarted:
		if err != nil {
			t.Fatalf("restart: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the server was never killed and restarted")
	}
	sameTree(t, readTree(t, root), readTree(t, dest))
	t.Logf("killed after %d bytes; fetched %d of %d in all", killedAt, res.BytesFetched, res.BytesTotal)
	if killedAt == 0 || killedAt >= res.BytesTotal {
		t.Fatalf("killed after %d of %d bytes: not mid-stream", killedAt, res.BytesTotal)
	}
	if res.BytesFetched > res.BytesTotal*11/10 {
		t.Fatalf("fetched %d bytes for %d: the retries fetched again what had arrived", res.BytesFetched, res.BytesTotal)
	}
}

// randomTree writes n files of size random bytes below a new directory and
// returns it.
func randomTree(tb testing.TB, n, size int) string {
	tb.Helper()
	root := filepath.Join(tb.TempDir(), "tree")
	rng := rand.NewChaCha8([32]byte{byte(n), byte(size)})
	for i := range n {
		b := make([]byte, size)
		_, _ = rng.Read(b) // ChaCha8.Read never fails
		p := filepath.Join(root, fmt.Sprintf("d%d", i%3), fmt.Sprintf("%06d.sst", i))
		mkdirAll(tb, filepath.Dir(p))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return root
}
