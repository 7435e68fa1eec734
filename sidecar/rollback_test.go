package sidecar

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/testdb"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/reason"
	"github.com/snapsync/snapsync/server"
)

// TestCommitKeepOldRollbackFinalize drives the node's sequence through the
// local API: Commit{keep_old} over an old DB reports a rollback, Status
// shows it, a second Commit is refused ROLLBACK_PENDING; then Rollback puts
// the old DB back (and a second Rollback is NO_ROLLBACK), or Finalize keeps
// the new one (twice: idempotent).
func TestCommitKeepOldRollbackFinalize(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 3<<20)
	p := startPeer(t, server.Config{Source: leader})
	for _, finalize := range []bool{false, true} {
		t.Run(map[bool]string{false: "rollback", true: "finalize"}[finalize], func(t *testing.T) {
			t.Parallel()
			l := startLocal(t, InstallConfig{}, nil)
			c := l.client
			ctx := context.Background()
			dest := filepath.Join(l.root, "db")
			writeDB(t, dest, 11, 1<<20)
			ref := filepath.Join(t.TempDir(), "ref")
			if err := os.CopyFS(ref, os.DirFS(dest)); err != nil {
				t.Fatal(err)
			}

			info := prepare(t, c, p.url, 0, dest)
			resp, err := c.Commit(ctx, connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: info.GetSnapshotId(), KeepOld: true}))
			if err != nil {
				t.Fatal(err)
			}
			if !resp.Msg.GetRollbackAvailable() || !bytes.Equal(resp.Msg.GetSnapshot().GetSnapshotId(), info.GetSnapshotId()) {
				t.Fatalf("commit: %v", resp.Msg)
			}
			testdb.CheckSameDB(t, leader.DB(), dest)
			st := status(t, c, dest)
			if !st.GetRollbackAvailable() || !bytes.Equal(st.GetCommitted().GetSnapshotId(), info.GetSnapshotId()) {
				t.Fatalf("status after commit: %v", st)
			}

			// Another Prepare goes through; its Commit waits for the kept DB.
			again := prepare(t, c, p.url, 0, dest)
			_, err = c.Commit(ctx, connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: again.GetSnapshotId()}))
			wantReason(t, err, connect.CodeFailedPrecondition, reason.RollbackPending)
			if _, err := c.Abort(ctx, connect.NewRequest(&snapsyncv1.AbortRequest{Dest: dest})); err != nil {
				t.Fatal(err)
			}

			if finalize {
				for i := range 2 {
					fr, err := c.Finalize(ctx, connect.NewRequest(&snapsyncv1.FinalizeRequest{Dest: dest}))
					if err != nil || fr.Msg.GetFinalized() != (i == 0) {
						t.Fatalf("finalize #%d: %v %v", i+1, fr, err)
					}
				}
				testdb.CheckSameDB(t, leader.DB(), dest)
			} else {
				rr, err := c.Rollback(ctx, connect.NewRequest(&snapsyncv1.RollbackRequest{Dest: dest}))
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(rr.Msg.GetRolledBack().GetSnapshotId(), info.GetSnapshotId()) {
					t.Fatalf("rollback removed %x, want %x", rr.Msg.GetRolledBack().GetSnapshotId(), info.GetSnapshotId())
				}
				testdb.CheckSameDB(t, openDB(t, ref), dest) // the old DB is back
			}
			_, err = c.Rollback(ctx, connect.NewRequest(&snapsyncv1.RollbackRequest{Dest: dest}))
			wantReason(t, err, connect.CodeFailedPrecondition, reason.NoRollback)
			if st := status(t, c, dest); st.GetRollbackAvailable() || st.GetCommitted() != nil {
				t.Fatalf("status at the end: %v", st)
			}
			// A Commit of the first snapshot again is no longer "already
			// installed" after a rollback: it is not prepared.
			if !finalize {
				_, err = c.Commit(ctx, connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: info.GetSnapshotId()}))
				wantReason(t, err, connect.CodeFailedPrecondition, reason.NotStaged)
			}
		})
	}
}

// TestRollbackOutsideRoots: Rollback and Finalize resolve dest like Commit.
func TestRollbackOutsideRoots(t *testing.T) {
	t.Parallel()
	l := startLocal(t, InstallConfig{}, nil)
	_, err := l.client.Rollback(context.Background(), connect.NewRequest(&snapsyncv1.RollbackRequest{Dest: t.TempDir()}))
	wantReason(t, err, connect.CodePermissionDenied, reason.DestNotAllowed)
	_, err = l.client.Finalize(context.Background(), connect.NewRequest(&snapsyncv1.FinalizeRequest{Dest: "relative"}))
	if err == nil {
		t.Fatal("finalize of a relative dest went through")
	}
}

// TestRollbackFinalizeAtRoot: an OM metadata directory given as the
// allowed root itself: Finalize with nothing kept is no error (twice), and
// Rollback is NO_ROLLBACK, never DEST_NOT_ALLOWED, and neither looks
// outside the root.
func TestRollbackFinalizeAtRoot(t *testing.T) {
	t.Parallel()
	l := startLocal(t, InstallConfig{}, nil)
	ctx := context.Background()
	// A whole-dest rollback area of the root would lie outside it: planted
	// there, it must be ignored.
	outside := filepath.Join(filepath.Dir(l.root), ".snapsync-"+filepath.Base(l.root)+".rollback")
	if err := os.Mkdir(outside, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(outside) })
	for range 2 {
		fr, err := l.client.Finalize(ctx, connect.NewRequest(&snapsyncv1.FinalizeRequest{Dest: l.root}))
		if err != nil || fr.Msg.GetFinalized() {
			t.Fatalf("finalize at the root: %v %v, want false, nil", fr, err)
		}
	}
	_, err := l.client.Rollback(ctx, connect.NewRequest(&snapsyncv1.RollbackRequest{Dest: l.root}))
	wantReason(t, err, connect.CodeFailedPrecondition, reason.NoRollback)
	if st := status(t, l.client, l.root); st.GetRollbackAvailable() {
		t.Fatalf("status at the root: %v", st)
	}
	if !exists(outside) {
		t.Fatal("the area outside the root was touched")
	}
}
