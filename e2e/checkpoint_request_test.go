package e2e

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/cockroachdb/pebble/v2"

	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testwait"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

// requestNode is a node that owns its Pebble DB and makes checkpoints on its
// sidecar's request (RegistryService.WatchCheckpointRequests), as an Ozone
// Manager does: a checkpoint under the registry root, registered with the
// request's ID and an index past the request's.
type requestNode struct {
	db     *pebble.DB
	root   string
	reg    snapsyncv1connect.RegistryServiceClient
	answer bool // false: a node that never registers

	mu        sync.Mutex
	requested time.Time // when the last request arrived
	made      time.Duration
}

// watch keeps WatchCheckpointRequests open until ctx ends.
func (n *requestNode) watch(ctx context.Context, tb testing.TB) {
	stream, err := n.reg.WatchCheckpointRequests(ctx, connect.NewRequest(&snapsyncv1.WatchCheckpointRequestsRequest{}))
	if err != nil {
		tb.Errorf("watch: %v", err)
		return
	}
	defer stream.Close()
	for stream.Receive() {
		req := stream.Msg().GetRequest()
		n.mu.Lock()
		n.requested = time.Now()
		n.mu.Unlock()
		if !n.answer {
			continue
		}
		if err := n.checkpoint(ctx, req); err != nil {
			tb.Errorf("checkpoint for request %s: %v", req.GetRequestId(), err)
		}
	}
	if err := stream.Err(); err != nil && ctx.Err() == nil {
		tb.Errorf("watch ended: %v", err)
	}
}

// checkpoint makes a Pebble checkpoint under the registry root and registers
// it for req, at the index the node has "applied" (min_index + 7).
func (n *requestNode) checkpoint(ctx context.Context, req *snapsyncv1.CheckpointRequest) error {
	start := time.Now()
	dir := filepath.Join(n.root, "ckpt-"+req.GetRequestId())
	if err := n.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return err
	}
	_, err := n.reg.RegisterCheckpoint(ctx, connect.NewRequest(&snapsyncv1.RegisterCheckpointRequest{
		Dir: dir, Term: 4, Index: req.GetMinIndex() + 7, RequestId: req.GetRequestId()}))
	n.mu.Lock()
	n.made = time.Since(start)
	n.mu.Unlock()
	return err
}

// startRequestNode opens a Pebble DB with data, starts a leader sidecar with
// a registry: source (extra args appended), registers one checkpoint at
// index 100 and watches for requests.
func startRequestNode(tb testing.TB, answer bool, args ...string) (*requestNode, *serveProc, string) {
	tb.Helper()
	dir := tb.TempDir()
	dbDir, root := filepath.Join(dir, "db"), filepath.Join(dir, "ckpts")
	writePebble(tb, dbDir, sampledb.Fill{Seed: 31, Bytes: 4 << 20})
	if err := os.MkdirAll(root, 0o755); err != nil {
		tb.Fatal(err)
	}
	srv, sock := startSidecar(tb, "registry:"+root, append([]string{"--engine", "pebble"}, args...)...)
	db, err := pebble.Open(dbDir, &pebble.Options{Logger: sampledb.QuietLogger{}})
	if err != nil {
		tb.Fatal(err)
	}
	n := &requestNode{db: db, root: root, answer: answer,
		reg: snapsyncv1connect.NewRegistryServiceClient(unixHTTPClient(sock), "http://local", connect.WithGRPC())}
	if err := n.checkpoint(context.Background(), &snapsyncv1.CheckpointRequest{RequestId: "initial", MinIndex: 93}); err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); n.watch(ctx, tb) }()
	tb.Cleanup(func() {
		cancel()
		<-done
		if err := db.Close(); err != nil {
			tb.Error(err)
		}
	})
	return n, srv, dbDir
}

// installPastNoMaker runs `snapsync install` until the sidecar has seen the
// node's watch (NO_CHECKPOINT_MAKER until then), for at most 10s, and
// returns its last run.
func installPastNoMaker(tb testing.TB, url, dest string, args ...string) runResult {
	tb.Helper()
	var r runResult
	testwait.Eventually(tb, 10*time.Second, func() (bool, string) {
		r = runSnapsync(context.Background(), nil, append([]string{"install", "--from", url, "--dest", dest, "--json"}, args...)...)
		return r.Err == nil || !strings.Contains(r.Stderr, "NO_CHECKPOINT_MAKER"), "install still fails with NO_CHECKPOINT_MAKER:\n" + tail(r.Stderr, 4000)
	})
	return r
}

// TestCheckpointOnRequest: a follower needs an index past every registered
// checkpoint; the leader sidecar asks its node, which makes a checkpoint and
// registers it, and the install gets it.
func TestCheckpointOnRequest(t *testing.T) {
	t.Parallel()
	n, srv, _ := startRequestNode(t, true)
	dest := filepath.Join(t.TempDir(), "db")
	start := time.Now()
	r := installPastNoMaker(t, srv.URL, dest, "--min-index", "500")
	if r.Err != nil {
		t.Fatalf("install: %v\n%s", r.Err, tail(r.Stderr, 4000))
	}
	done := time.Now()
	if !strings.Contains(r.Stdout, `"index":507`) && !strings.Contains(r.Stdout, `"index": 507`) {
		t.Fatalf("install output %s: want index 507, the checkpoint made on request", r.Stdout)
	}
	n.mu.Lock()
	requested, made := n.requested, n.made
	n.mu.Unlock()
	if requested.IsZero() || requested.Before(start) {
		t.Fatal("the node was never asked for a checkpoint")
	}
	t.Logf("request to registered checkpoint: %v (Pebble checkpoint + RegisterCheckpoint); "+
		"request to installed: %v", made, done.Sub(requested))
	ckpts, err := filepath.Glob(filepath.Join(n.root, "ckpt-*"))
	if err != nil || len(ckpts) != 1 || filepath.Base(ckpts[0]) == "ckpt-initial" {
		t.Fatalf("registry root holds %v (%v): want only the checkpoint made on request", ckpts, err)
	}
	comparePebble(t, ckpts[0], dest)
}

// TestCheckpointRequestFails: a node that never answers fails the install
// with CHECKPOINT_TIMEOUT after --checkpoint-timeout; with no node watching,
// it fails at once with NO_CHECKPOINT_MAKER.
func TestCheckpointRequestFails(t *testing.T) {
	t.Parallel()
	t.Run("timeout", func(t *testing.T) {
		t.Parallel()
		_, srv, _ := startRequestNode(t, false, "--checkpoint-timeout", "2s")
		start := time.Now()
		r := installPastNoMaker(t, srv.URL, filepath.Join(t.TempDir(), "db"), "--min-index", "500")
		wantFailure(t, r, "CHECKPOINT_TIMEOUT")
		if d := time.Since(start); d < 2*time.Second {
			t.Fatalf("failed after %v, before the 2s timeout", d)
		}
	})
	t.Run("no maker", func(t *testing.T) {
		t.Parallel()
		root := t.TempDir()
		checkpointPebble(t, func() string {
			db := filepath.Join(t.TempDir(), "db")
			writePebble(t, db, sampledb.Fill{Seed: 32, Bytes: 1 << 20})
			return db
		}(), filepath.Join(root, "ckpt"))
		srv, sock := startSidecar(t, "registry:"+root, "--engine", "pebble")
		reg := snapsyncv1connect.NewRegistryServiceClient(unixHTTPClient(sock), "http://local", connect.WithGRPC())
		if _, err := reg.RegisterCheckpoint(t.Context(), connect.NewRequest(&snapsyncv1.RegisterCheckpointRequest{
			Dir: filepath.Join(root, "ckpt"), Term: 1, Index: 100})); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		r := runSnapsync(t.Context(), nil, "install", "--from", srv.URL, "--dest", filepath.Join(t.TempDir(), "db"), "--min-index", "500")
		wantFailure(t, r, "NO_CHECKPOINT_MAKER")
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("took %v: want an immediate failure", d)
		}
	})
}

func wantFailure(tb testing.TB, r runResult, reason string) {
	tb.Helper()
	var exit interface{ ExitCode() int }
	if r.Err == nil || !errors.As(r.Err, &exit) {
		tb.Fatalf("install: %v, want it to fail", r.Err)
	}
	if line := lastLine(r.Stderr); !strings.HasPrefix(line, "snapsync: ") || !strings.Contains(line, reason) {
		tb.Fatalf("error line %q: want it to name %s", line, reason)
	}
}
