package client

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jonboulle/clockwork"

	"github.com/snapsync/snapsync/internal/testdb"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	pebblesource "github.com/snapsync/snapsync/source/pebble"
	"github.com/snapsync/snapsync/verify"
)

// checkpointSource makes a Pebble checkpoint of the leader and serves it as a
// DirSource reflecting index, so every CreateSnapshot yields the same ID.
func checkpointSource(tb testing.TB, leader *pebblesource.Source, index uint64) *dirsource.Source {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "checkpoint")
	if err := leader.DB().Checkpoint(dir); err != nil {
		tb.Fatal(err)
	}
	src, err := dirsource.New(dir, verify.Meta{Term: 2, Index: index, CreatedUnixNano: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return src
}

// oldDest fills dest with a small tree standing for the follower's current
// database and returns its contents.
func oldDest(tb testing.TB, dest string) map[string]string {
	tb.Helper()
	if err := os.MkdirAll(filepath.Join(dest, "sub"), 0o755); err != nil {
		tb.Fatal(err)
	}
	for name, data := range map[string]string{"CURRENT": "old\n", "000001.sst": "old table", "sub/x": "x"} {
		if err := os.WriteFile(filepath.Join(dest, name), []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return readTree(tb, dest)
}

// chunkWriteLimit is a Hook that fails the install at the n-th written chunk.
func chunkWriteLimit(n int) func(string) error {
	count := make(chan struct{}, n)
	return func(point string) error {
		if point != "chunk-written" {
			return nil
		}
		select {
		case count <- struct{}{}:
			return nil
		default:
			return errStop
		}
	}
}

var errStop = errors.New("test: stop here")

func TestPrepareCommitLeavesDestUntilCommit(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 2<<20)
	ts := startServer(t, server.Config{Source: checkpointSource(t, leader, 7)}, "")
	dest := filepath.Join(t.TempDir(), "db")
	before := oldDest(t, dest)
	cfg := testConfig(t, dest)
	ctx := context.Background()
	p, err := Prepare(ctx, ts.url, 7, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.AlreadyStaged || p.Index != 7 || p.Term != 2 || p.BytesFetched == 0 {
		t.Fatalf("first Prepare: %+v", p)
	}
	sameTree(t, before, readTree(t, dest))
	again, err := Prepare(ctx, ts.url, 7, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if !again.AlreadyStaged || again.SnapshotID != p.SnapshotID {
		t.Fatalf("second Prepare: %+v, want the staged snapshot", again)
	}
	sameTree(t, before, readTree(t, dest))
	res, err := Commit(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotID != p.SnapshotID || res.Index != 7 {
		t.Fatalf("Commit: %+v, Prepare: %+v", res, p)
	}
	testdb.CheckSameDB(t, leader.DB(), dest)
	if _, err := os.Lstat(filepath.Join(filepath.Dir(dest), ".snapsync-db")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("staging area left after Commit: %v", err)
	}
	if _, err := Commit(ctx, cfg); !errors.Is(err, ErrNotStaged) {
		t.Fatalf("second Commit: %v, want ErrNotStaged", err)
	}
}

func TestCommitWithoutPrepare(t *testing.T) {
	t.Parallel()
	dest := filepath.Join(t.TempDir(), "db")
	before := oldDest(t, dest)
	if _, err := Commit(context.Background(), testConfig(t, dest)); !errors.Is(err, ErrNotStaged) {
		t.Fatalf("Commit: %v, want ErrNotStaged", err)
	}
	sameTree(t, before, readTree(t, dest))
}

func TestAbortKeepResumes(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 4<<20)
	ts := startServer(t, server.Config{Source: checkpointSource(t, leader, 1), Compression: server.CompressionNone}, "")
	parent := t.TempDir()
	dest := filepath.Join(parent, "db")
	before := oldDest(t, dest)
	ctx := context.Background()
	cfg := testConfig(t, dest)
	cfg.Streams = 1
	cfg.Hook = chunkWriteLimit(20)
	if _, err := Prepare(ctx, ts.url, 0, cfg); !errors.Is(err, errStop) {
		t.Fatalf("interrupted Prepare: %v", err)
	}
	if err := Abort(ctx, cfg, true); err != nil {
		t.Fatal(err)
	}
	staging := filepath.Join(parent, ".snapsync-db")
	if fi, err := os.Stat(filepath.Join(staging, "stage")); err != nil || !fi.IsDir() {
		t.Fatalf("Abort keep=true removed the staged tree: %v", err)
	}
	cfg.Hook = nil
	p, err := Prepare(ctx, ts.url, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if p.BytesReused < 20*testChunkSize || p.BytesFetched > p.BytesTotal-20*testChunkSize+testChunkSize {
		t.Fatalf("resumed Prepare fetched %d, reused %d of %d: the kept chunks were not used",
			p.BytesFetched, p.BytesReused, p.BytesTotal)
	}
	sameTree(t, before, readTree(t, dest))
	if err := Abort(ctx, cfg, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(staging); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Abort keep=false left the staging area: %v", err)
	}
	if _, err := Commit(ctx, cfg); !errors.Is(err, ErrNotStaged) {
		t.Fatalf("Commit after Abort: %v, want ErrNotStaged", err)
	}
	sameTree(t, before, readTree(t, dest))
}

func TestMinIndexUnmet(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 1<<20)
	ts := startServer(t, server.Config{Source: checkpointSource(t, leader, 5)}, "")
	dest := filepath.Join(t.TempDir(), "db")
	before := oldDest(t, dest)
	_, err := Install(context.Background(), ts.url, 6, testConfig(t, dest))
	if !errors.Is(err, ErrMinIndex) || connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Fatalf("Install above the leader's index: %v, want ErrMinIndex", err)
	}
	t.Logf("error: %v", err)
	sameTree(t, before, readTree(t, dest))
}

// TestLeaseRenewed holds a lease through a pause of four TTLs after the
// manifest is fetched (as a long plan would): the client's renewer keeps the
// server from removing the checkpoint, and the install succeeds. Client and
// server share a fake clock that the pause moves a third of a TTL at a time,
// each time once the renewer and the server's sweeper wait on it again.
func TestLeaseRenewed(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 1<<20)
	const ttl = time.Minute
	clock := clockwork.NewFakeClockAt(time.Now())
	ts := startServer(t, server.Config{Source: leader, LeaseTTL: ttl, SweepInterval: 10 * time.Second, Clock: clock}, "")
	dest := filepath.Join(t.TempDir(), "db")
	cfg := testConfig(t, dest)
	cfg.LeaseTTL, cfg.Clock = ttl, clock
	cfg.Hook = func(point string) error {
		if point != "manifest-fetched" {
			return nil
		}
		for range 12 {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			err := clock.BlockUntilContext(ctx, 2) // the renewer's timer and the sweeper's ticker
			cancel()
			if err != nil {
				return fmt.Errorf("the renewer and the sweeper never both waited on the clock: %w", err)
			}
			clock.Advance(ttl / 3)
		}
		return nil
	}
	if _, err := Install(context.Background(), ts.url, 0, cfg); err != nil {
		t.Fatal(err)
	}
	testdb.CheckSameDB(t, leader.DB(), dest)
}

// TestSuccessiveCalls: a plan larger than ChunksPerRequest is fetched in
// successive calls, each within the server's cap.
func TestSuccessiveCalls(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 2<<20)
	ts := startServer(t, server.Config{Source: leader, MaxChunksPerRequest: 3}, "")
	dest := filepath.Join(t.TempDir(), "db")
	cfg := testConfig(t, dest)
	cfg.ChunksPerRequest, cfg.Streams = 3, 2
	res, err := Install(context.Background(), ts.url, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.BytesTotal < 10*testChunkSize {
		t.Fatalf("only %d bytes: too few chunks to need several calls", res.BytesTotal)
	}
	testdb.CheckSameDB(t, leader.DB(), dest)
}
