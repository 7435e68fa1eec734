package e2e

import (
	"bytes"
	"path/filepath"
	"syscall"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/sampledb"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// TestSidecarKilledAfterPrepare SIGKILLs a follower sidecar once its Prepare
// has finished: the restarted sidecar's Status says PREPARED with the same
// snapshot, and Commit installs it without a new Prepare.
func TestSidecarKilledAfterPrepare(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	leaderDB := filepath.Join(root, "leader")
	writePebble(t, leaderDB, sampledb.Fill{Seed: 41, Bytes: 4 << 20})
	want := pristine(t, leaderDB)
	leader := startServe(t, "dir:"+leaderDB)
	newFiles := treeFiles(t, leaderDB)
	nodeDir := t.TempDir()
	dest := filepath.Join(nodeDir, "db")
	ctx := t.Context()

	sc := startFollowerSidecar(t, nodeDir)
	id := prepareVia(ctx, t, sc.local, leader.URL, dest)
	if err := sc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := sc.cmd.Wait(); !isKilled(err) {
		t.Fatalf("the sidecar did not die of SIGKILL: %v", err)
	}

	sc = startFollowerSidecar(t, nodeDir)
	st, err := sc.local.Status(ctx, connect.NewRequest(&snapsyncv1.StatusRequest{Dest: dest}))
	if err != nil {
		t.Fatal(err)
	}
	if st.Msg.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_PREPARED ||
		!bytes.Equal(st.Msg.GetPrepared().GetSnapshotId(), id) {
		t.Fatalf("Status after the restart: %v, want PREPARED with %x", st.Msg, id)
	}
	resp, err := sc.local.Commit(ctx, connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: id}))
	if err != nil {
		t.Fatalf("Commit after the restart: %v", err)
	}
	if !bytes.Equal(resp.Msg.GetSnapshot().GetSnapshotId(), id) {
		t.Fatalf("Commit installed %x, want %x", resp.Msg.GetSnapshot().GetSnapshotId(), id)
	}
	if diff := sameContent(newFiles, treeFiles(t, dest)); diff != "" {
		t.Fatalf("after the Commit: %s", diff)
	}
	comparePebble(t, want, dest)
}
