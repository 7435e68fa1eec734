package sidecar

import (
	"path/filepath"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/testdb"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/reason"
	"github.com/snapsync/snapsync/server"
)

// restartLocal closes l's service, as a restart of the sidecar does, and
// starts a new one on the same root with cfg.
func restartLocal(tb testing.TB, l *local, cfg InstallConfig) *local {
	tb.Helper()
	if err := l.install.Close(); err != nil {
		tb.Fatal(err)
	}
	cfg.AllowedRoots = []string{l.root}
	return startLocal(tb, cfg, nil)
}

// TestRestartPrepared: after a restart Status reports the prepared snapshot
// with the same info, and Commit installs it without a new Prepare.
func TestRestartPrepared(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 2<<20)
	p := startPeer(t, server.Config{Source: leader})
	l := startLocal(t, InstallConfig{}, nil)
	dest := filepath.Join(l.root, "db")
	info := prepare(t, l.client, p.url, 0, dest)

	l = restartLocal(t, l, InstallConfig{})
	st := status(t, l.client, dest)
	if st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_PREPARED || !proto.Equal(st.GetPrepared(), info) {
		t.Fatalf("status after restart: %v, want PREPARED with %v", st, info)
	}
	if got := commit(t, l.client, dest, info.GetSnapshotId()); !proto.Equal(got, info) {
		t.Fatalf("commit after restart: %v, want %v", got, info)
	}
	testdb.CheckSameDB(t, leader.DB(), dest)
	if exists(filepath.Join(l.root, ".snapsync-db")) {
		t.Fatal("commit left the staging area (or the install state)")
	}
	l = restartLocal(t, l, InstallConfig{})
	if st := status(t, l.client, dest); st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_IDLE {
		t.Fatalf("status after a commit and a restart: %v, want IDLE", st)
	}
}

// TestRestartFailed: a failed Prepare's error and reason survive a restart;
// Commit is refused.
func TestRestartFailed(t *testing.T) {
	t.Parallel()
	p := startPeer(t, server.Config{Source: openLeader(t, 1<<20)}) // index 42
	l := startLocal(t, InstallConfig{}, nil)
	dest := filepath.Join(l.root, "db")
	_, err := startPrepare(t, l.client, p.url, 1000, dest).finish()
	wantCode(t, err, connect.CodeFailedPrecondition)
	before := waitState(t, l.client, dest, snapsyncv1.InstallState_INSTALL_STATE_FAILED)
	if before.GetReason() != reason.MinIndexNotReached {
		t.Fatalf("status: %v, want reason %s", before, reason.MinIndexNotReached)
	}

	l = restartLocal(t, l, InstallConfig{})
	after := status(t, l.client, dest)
	if after.GetProgress().GetState() != before.GetProgress().GetState() || after.GetError() != before.GetError() ||
		after.GetReason() != before.GetReason() {
		t.Fatalf("status after restart: %v, want %v", after, before)
	}
	wantError(t, commitErr(l.client, dest, make([]byte, 32)), connect.CodeFailedPrecondition, "the last Prepare failed")
}

// TestRestartPreparing: a Prepare the restart cut short is FAILED with
// SIDECAR_RESTARTED after it; the next Prepare resumes from what is staged,
// and Commit installs it.
func TestRestartPreparing(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 4<<20)
	p := startPeer(t, server.Config{Source: leader})
	g := newGate("chunk-written", 16)
	defer g.open()
	cfg := InstallConfig{Client: client.Config{Hook: g.hook, Streams: 2, ChunksPerRequest: 4,
		Compression: snapsyncv1.Compression_COMPRESSION_NONE}}
	l := startLocal(t, cfg, nil)
	dest := filepath.Join(l.root, "db")
	ps := startPrepare(t, l.client, p.url, 0, dest)
	g.wait(t)
	closed := make(chan error, 1)
	go func() { closed <- l.install.Close() }()
	g.open()
	if err := <-closed; err != nil {
		t.Fatal(err)
	}
	_, err := ps.finish()
	wantCode(t, err, connect.CodeUnavailable)

	l = restartLocal(t, l, InstallConfig{})
	st := status(t, l.client, dest)
	if st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_FAILED || st.GetReason() != reason.SidecarRestarted {
		t.Fatalf("status after restart: %v, want FAILED with %s", st, reason.SidecarRestarted)
	}
	first := p.srv.Stats().BytesSent
	info := prepare(t, l.client, p.url, 0, dest)
	if second := p.srv.Stats().BytesSent - first; int64(second) > int64(info.GetTotalBytes())-10*testChunkSize {
		t.Fatalf("resumed prepare fetched %d of %d bytes; the first had %d", second, info.GetTotalBytes(), first)
	}
	commit(t, l.client, dest, info.GetSnapshotId())
	testdb.CheckSameDB(t, leader.DB(), dest)
}
