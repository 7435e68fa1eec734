package server

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jonboulle/clockwork"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// TestLeaseLifecycle: an owned checkpoint lives while a lease holds it and is
// removed, tree and state, by the sweeper once the lease expires, or at once
// when it is released; renewing keeps it. Time is a fake clock: the test
// moves it instead of sleeping.
func TestLeaseLifecycle(t *testing.T) {
	t.Parallel()
	src := openPebble(t, 1<<20)
	const ttl, sweep = time.Minute, 10 * time.Second
	clock := clockwork.NewFakeClockAt(time.Now())
	ts := startServer(t, Config{Source: src, ReuseWithin: -1, SweepInterval: sweep, Clock: clock})
	ctx := context.Background()
	renew := func(t *testing.T, lease string) {
		t.Helper()
		res, err := ts.client.RenewLease(ctx, connect.NewRequest(&snapsyncv1.RenewLeaseRequest{LeaseId: lease}))
		if err != nil {
			t.Fatal(err)
		}
		if left := clock.Until(time.Unix(0, res.Msg.GetLease().GetExpiresUnixNano())); left != ttl {
			t.Fatalf("renewed lease has %v left, want the lease's TTL %v", left, ttl)
		}
	}
	testCases := []struct {
		name   string
		act    func(t *testing.T, lease string)
		remain bool // the checkpoint is still there after act
	}{
		{"held", func(t *testing.T, _ string) { ts.advance(t, ttl-time.Second) }, true},
		{"expires", func(t *testing.T, _ string) { ts.advance(t, ttl) }, false},
		{"released", func(t *testing.T, lease string) {
			if _, err := ts.client.ReleaseLease(ctx, connect.NewRequest(&snapsyncv1.ReleaseLeaseRequest{LeaseId: lease})); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"renewed", func(t *testing.T, lease string) {
			for range 6 { // six times two thirds of the TTL: four TTLs in all
				ts.advance(t, ttl*2/3)
				renew(t, lease)
			}
		}, true},
		{"renewed, then expires", func(t *testing.T, lease string) {
			ts.advance(t, ttl/2)
			renew(t, lease)
			ts.advance(t, ttl)
			if _, err := ts.client.RenewLease(ctx, connect.NewRequest(&snapsyncv1.RenewLeaseRequest{LeaseId: lease})); codeOfErr(err) != connect.CodeNotFound {
				t.Fatalf("renewing an expired lease: %v, want NotFound", err)
			}
		}, false},
	}
	for _, tc := range testCases { // in turn: concurrent creates would share one checkpoint
		t.Run(tc.name, func(t *testing.T) {
			res := ts.create(t, 0, uint32(ttl.Milliseconds()))
			id := verify.Digest(res.GetSnapshot().GetSnapshotId())
			e := ts.entry(id)
			if e == nil {
				t.Fatal("not in the catalog")
			}
			tc.act(t, res.GetLease().GetLeaseId())
			if !tc.remain {
				ts.waitGone(t, e.dir)
			}
			_, dirErr := os.Stat(e.dir)
			_, stateErr := os.Stat(ts.srv.catalog.statePath(id))
			_, manErr := ts.manifestBytes(id[:])
			if got := dirErr == nil && stateErr == nil && manErr == nil; got != tc.remain {
				t.Fatalf("remains %v (tree: %v, state: %v, manifest: %v), want %v", got, dirErr, stateErr, manErr, tc.remain)
			}
			if !tc.remain && codeOfErr(manErr) != connect.CodeNotFound {
				t.Fatalf("GetManifest of a removed snapshot: %v, want NotFound", manErr)
			}
			if tc.remain { // leave no lease to the next case
				if _, err := ts.client.ReleaseLease(ctx, connect.NewRequest(&snapsyncv1.ReleaseLeaseRequest{LeaseId: res.GetLease().GetLeaseId()})); err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

// TestStreamRenewsLease: a stream that names a lease keeps it alive past its
// TTL.
func TestStreamRenewsLease(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"a": 24 * testChunkSize})
	src, err := dirsource.New(dir, verify.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	// 1.5 MiB at 1 MiB/s: the stream outlives a 300ms lease several times.
	ts := startServer(t, Config{Source: src, RateLimit: 1 << 20, SweepInterval: 20 * time.Millisecond, Compression: CompressionNone})
	res := ts.create(t, 0, 300)
	m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
	if _, err := ts.fetch(context.Background(), t, m, &snapsyncv1.FetchChunksRequest{
		SnapshotId: res.GetSnapshot().GetSnapshotId(), Ranges: allRanges(m), LeaseId: res.GetLease().GetLeaseId(),
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.client.RenewLease(context.Background(), connect.NewRequest(&snapsyncv1.RenewLeaseRequest{LeaseId: res.GetLease().GetLeaseId()})); err != nil {
		t.Fatalf("lease lapsed during the stream: %v", err)
	}
}

// TestRestart: a restarted server keeps serving an unexpired checkpoint under
// the same ID and lease, and removes expired and orphaned ones at start.
func TestRestart(t *testing.T) {
	t.Parallel()
	src := openPebble(t, 2<<20)
	work := filepath.Join(t.TempDir(), "work")
	clock := clockwork.NewFakeClockAt(time.Now())
	cfg := Config{Source: src, WorkDir: work, ReuseWithin: -1, Clock: clock}
	ts := startServer(t, cfg)
	kept := ts.create(t, 0, 60_000)
	gone := ts.create(t, 0, 200)
	goneDir := ts.entry(verify.Digest(gone.GetSnapshot().GetSnapshotId())).dir
	ts.stop()
	orphan := filepath.Join(work, checkpointsDirName, "123-orphan")
	writeTree(t, orphan, map[string]int{"x": 10})
	clock.Advance(time.Second) // the short lease expires while no server runs

	ts = startServer(t, cfg)
	id := kept.GetSnapshot().GetSnapshotId()
	m := ts.manifest(t, id)
	if _, err := ts.fetch(context.Background(), t, m, &snapsyncv1.FetchChunksRequest{
		SnapshotId: id, Ranges: allRanges(m), LeaseId: kept.GetLease().GetLeaseId(),
	}); err != nil {
		t.Fatalf("fetch after restart: %v", err)
	}
	if _, err := ts.manifestBytes(gone.GetSnapshot().GetSnapshotId()); codeOfErr(err) != connect.CodeNotFound {
		t.Errorf("expired snapshot after restart: %v, want NotFound", err)
	}
	for _, d := range []string{goneDir, orphan} {
		if _, err := os.Stat(d); !os.IsNotExist(err) {
			t.Errorf("%s still there after restart: %v", d, err)
		}
	}
	if n := len(treeNames(t, filepath.Join(work, checkpointsDirName))); n != 1 {
		t.Errorf("%d checkpoint trees, want 1", n)
	}
	if n := len(treeNames(t, filepath.Join(work, stateDirName))); n != 2 {
		t.Errorf("%d state files, want 2 (json and manifest)", n)
	}
}

// TestWorkDirLocked: two servers never share a work dir.
func TestWorkDirLocked(t *testing.T) {
	t.Parallel()
	src := openPebble(t, 0)
	ts := startServer(t, Config{Source: src})
	_, err := New(context.Background(), Config{Source: src, WorkDir: ts.cfg.WorkDir})
	if err == nil || !errors.Is(err, ErrWorkDirLocked) {
		t.Fatalf("second server on the same work dir: %v, want ErrWorkDirLocked", err)
	}
}

// TestLeaseOrdinal: each lease granted on a snapshot is told its place among
// them, from 1, whether the snapshot was made for it or reused; a new
// snapshot counts afresh.
func TestLeaseOrdinal(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{Source: openPebble(t, 1<<20), ReuseWithin: time.Hour})
	var first []byte
	for want := uint32(1); want <= 3; want++ {
		res := ts.create(t, 0, 0)
		if got := res.GetLeaseOrdinal(); got != want {
			t.Fatalf("lease %d: ordinal %d, want %d", want, got, want)
		}
		id := res.GetSnapshot().GetSnapshotId()
		if first == nil {
			first = id
		} else if string(id) != string(first) {
			t.Fatalf("lease %d: snapshot %x, want the reused %x", want, id, first)
		}
	}
	fresh := startServer(t, Config{Source: openPebble(t, 1<<20), ReuseWithin: -1})
	for range 2 { // a snapshot made for each lease: each the first of its own
		if got := fresh.create(t, 0, 0).GetLeaseOrdinal(); got != 1 {
			t.Fatalf("the only lease of a new snapshot: ordinal %d, want 1", got)
		}
	}
}

// TestLeaseRenewalPersisted: a renewal is written to the state file only
// once the expiry written there would keep the lease for less than half its
// TTL; what a restart then finds still outlives the client's next renewal.
func TestLeaseRenewalPersisted(t *testing.T) {
	t.Parallel()
	const ttl = time.Minute
	clock := clockwork.NewFakeClockAt(time.Now())
	ts := startServer(t, Config{Source: openPebble(t, 1<<20), ReuseWithin: -1, SweepInterval: time.Hour, Clock: clock})
	res := ts.create(t, 0, uint32(ttl.Milliseconds()))
	id, lid := verify.Digest(res.GetSnapshot().GetSnapshotId()), res.GetLease().GetLeaseId()
	created := clock.Now()
	onDisk := func(t *testing.T) time.Time {
		t.Helper()
		b, err := os.ReadFile(ts.srv.catalog.statePath(id))
		if err != nil {
			t.Fatal(err)
		}
		st, err := decodeState(b, id, filepath.Join(ts.cfg.WorkDir, "checkpoints"))
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Leases) != 1 {
			t.Fatalf("%d leases on disk, want 1", len(st.Leases))
		}
		return time.Unix(0, st.Leases[0].ExpiresUnixNano)
	}
	renew := func(t *testing.T) {
		t.Helper()
		if _, err := ts.client.RenewLease(context.Background(), connect.NewRequest(&snapsyncv1.RenewLeaseRequest{LeaseId: lid})); err != nil {
			t.Fatal(err)
		}
	}
	testCases := []struct {
		name    string
		advance time.Duration // before the renewal
		want    time.Time     // the expiry on disk after it
	}{
		{"a third in: the grant's expiry still holds it past half a TTL", ttl / 3, created.Add(ttl)},
		{"two thirds in: written", ttl / 3, created.Add(2*ttl/3 + ttl)},
		{"at once again: not written", 0, created.Add(2*ttl/3 + ttl)},
	}
	for _, tc := range testCases { // in turn: each builds on the one before
		ts.advance(t, tc.advance)
		renew(t)
		if got := onDisk(t); !got.Equal(tc.want) {
			t.Fatalf("%s: expiry on disk %v after the grant, want %v", tc.name, got.Sub(created), tc.want.Sub(created))
		}
	}
}
