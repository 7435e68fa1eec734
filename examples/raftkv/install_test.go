package raftkv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// newSidecarFSM returns an FSM over a fresh DB whose sidecar is a real
// `snapsync serve` process, both stopped when the test ends.
func newSidecarFSM(tb testing.TB, name string) (*fsm, *sidecarProc) {
	tb.Helper()
	dataDir := filepath.Join(tb.TempDir(), name)
	sc := startSidecar(tb, name, dataDir)
	cfg := Config{
		ID: name, DataDir: dataDir, SidecarPeerURL: sc.PeerURL, SidecarLocalURL: sc.LocalURL, SidecarToken: sc.Token,
		Logger: testLogger(tb, name),
	}
	cfg.EnsureDefaults()
	st, err := openStore(dbDir(dataDir), zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	f, err := newFSM(context.Background(), &cfg, st, newSidecarClient(cfg.HTTPClient, cfg.SidecarLocalURL))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := f.close(); err != nil {
			tb.Error(err)
		}
	})
	return f, sc
}

// applyRange applies puts of key%03d=value%03d for indexes [from, to].
func applyRange(tb testing.TB, f *fsm, from, to uint64) {
	tb.Helper()
	for i := from; i <= to; i++ {
		if res := applyPut(tb, f, i, fmt.Sprintf("key%03d", i), fmt.Sprintf("value%03d", i)); res != nil {
			tb.Fatalf("apply %d: %v", i, res)
		}
	}
}

// restorePointer hands p to f as Raft would after an InstallSnapshot.
func restorePointer(f *fsm, p Pointer) error {
	b, err := p.Encode()
	if err != nil {
		return err
	}
	return f.Restore(io.NopCloser(bytes.NewReader(b)))
}

// TestInstallBetweenSidecars runs the pointer path without Raft: the
// leader's snapshot registers a checkpoint with its sidecar and persists a
// pointer; the follower's Restore of that pointer prepares the checkpoint
// through its own sidecar, commits it and reopens a DB equal to the leader's.
func TestInstallBetweenSidecars(t *testing.T) {
	t.Parallel()
	leader, _ := newSidecarFSM(t, "leader")
	follower, _ := newSidecarFSM(t, "follower")
	applyRange(t, leader, 1, 300)
	applyRange(t, follower, 1, 40)

	ptr := persist(t, leader, raft.NewInmemSnapshotStore(), nil)
	if ptr.Index != 300 {
		t.Fatalf("pointer %+v, want index 300", ptr)
	}
	if err := restorePointer(follower, ptr); err != nil {
		t.Fatal(err)
	}
	rep, ok := follower.lastInstall()
	if !ok || rep.Index != 300 || rep.BytesTotal == 0 || rep.Files == 0 {
		t.Fatalf("install report %+v, %v", rep, ok)
	}
	if follower.index.Load() != 300 {
		t.Fatalf("follower at index %d, want 300", follower.index.Load())
	}
	want, got := dumpFSM(t, leader), dumpFSM(t, follower)
	if want != got {
		t.Fatalf("follower's data differs from the leader's:\n%.200s\nvs\n%.200s", got, want)
	}

	// The same pointer again (Raft retries a timed-out InstallSnapshot) is
	// not ahead of the DB: nothing moves.
	if err := restorePointer(follower, ptr); err != nil {
		t.Fatal(err)
	}
	if again, _ := follower.lastInstall(); again != rep {
		t.Fatalf("a second install ran: %+v", again)
	}
	// The follower goes on applying on top of the installed DB.
	applyRange(t, follower, 301, 305)
	if v, err := follower.get([]byte("key305")); err != nil || string(v) != "value305" {
		t.Fatalf("key305 = %q, %v", v, err)
	}
}

// TestInstallFailuresKeepTheDB checks that a Prepare or a Commit the sidecar
// refuses leaves the node's DB open and unchanged.
func TestInstallFailuresKeepTheDB(t *testing.T) {
	t.Parallel()
	leader, leaderSidecar := newSidecarFSM(t, "leader")
	f, _ := newSidecarFSM(t, "node")
	applyRange(t, leader, 1, 5)
	persist(t, leader, raft.NewInmemSnapshotStore(), nil) // the leader's sidecar holds index 5
	applyRange(t, f, 1, 3)

	// The leader's sidecar has nothing at index 99: Prepare fails.
	err := restorePointer(f, Pointer{SidecarURL: leaderSidecar.PeerURL, Term: 2, Index: 99})
	if err == nil {
		t.Fatal("restore of a pointer no sidecar can serve succeeded")
	}
	checkKept(t, f, 3)

	// Nothing is prepared for this ID: Commit fails after the DB was closed,
	// and the DB is reopened as it was.
	err = f.swap(context.Background(), &snapsyncv1.SnapshotInfo{SnapshotId: bytes.Repeat([]byte{7}, 32)})
	if err == nil || !strings.Contains(err.Error(), "commit") {
		t.Fatalf("commit of an unprepared snapshot: %v, want a commit error", err)
	}
	checkKept(t, f, 3)
}

// checkKept checks that f's DB is open at index with its data.
func checkKept(tb testing.TB, f *fsm, index uint64) {
	tb.Helper()
	if f.index.Load() != index {
		tb.Fatalf("index %d, want %d", f.index.Load(), index)
	}
	if v, err := f.get(fmt.Appendf(nil, "key%03d", index)); err != nil || string(v) != fmt.Sprintf("value%03d", index) {
		tb.Fatalf("after a failed install: %q, %v", v, err)
	}
	if _, ok := f.lastInstall(); ok {
		tb.Fatal("a failed install was recorded")
	}
}

// dumpFSM returns f's keys and values as text.
func dumpFSM(tb testing.TB, f *fsm) string {
	tb.Helper()
	var b strings.Builder
	err := f.scan(func(k, v []byte) error {
		fmt.Fprintf(&b, "%s=%s\n", k, v)
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b.String()
}
