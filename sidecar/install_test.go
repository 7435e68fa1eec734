package sidecar

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"
	"github.com/cockroachdb/pebble/v2"

	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testdb"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
)

// socketPath returns a short path for a unix socket (sun_path holds 108
// bytes; test temp dirs can be longer).
func socketPath(tb testing.TB) string {
	tb.Helper()
	dir, err := os.MkdirTemp("", "ss")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return filepath.Join(dir, "local.sock")
}

// unixHTTPClient speaks h2c over the unix socket at path, whatever the URL's
// host.
func unixHTTPClient(path string) *http.Client {
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{
		Protocols: protos,
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		},
	}}
}

// TestPrepareCommitPebble installs a leader's Pebble DB over a follower's old
// one through the local API, over TCP and over a unix socket, then reopens
// the destination with Pebble and compares it key by key.
func TestPrepareCommitPebble(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 6<<20)
	p := startPeer(t, server.Config{Source: leader})
	testCases := []struct {
		name string
		unix bool
	}{{"tcp", false}, {"unix", true}}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := startLocal(t, InstallConfig{}, nil)
			c := l.client
			if tc.unix {
				sock := socketPath(t)
				ln, err := Listen("unix:"+sock, false)
				if err != nil {
					t.Fatal(err)
				}
				serve(t, ln, LocalHandler(l.install, nil))
				c = snapsyncv1connect.NewInstallServiceClient(unixHTTPClient(sock), "http://sidecar")
			}
			dest := filepath.Join(l.root, "db")
			writeDB(t, dest, 7, 1<<20)
			installAndCheck(t, c, p, leader.DB(), dest)
		})
	}
}

// installAndCheck runs Prepare then Commit for dest and checks every step.
func installAndCheck(t *testing.T, c snapsyncv1connect.InstallServiceClient, p *peer, leader *pebble.DB, dest string) {
	t.Helper()
	ps := startPrepare(t, c, p.url, 40, dest)
	info, err := ps.finish()
	if err != nil {
		t.Fatalf("prepare: %v", err)
	}
	if info.GetTerm() != 3 || info.GetIndex() != 42 || len(info.GetSnapshotId()) != 32 || info.GetTotalBytes() == 0 {
		t.Fatalf("prepared %v", info)
	}
	if first := ps.msgs[0].GetProgress().GetState(); first != snapsyncv1.InstallState_INSTALL_STATE_PREPARING {
		t.Fatalf("first message state %v", first)
	}
	last := ps.msgs[len(ps.msgs)-1].GetProgress()
	if last.GetState() != snapsyncv1.InstallState_INSTALL_STATE_PREPARED || last.GetBytesDone() != last.GetBytesTotal() {
		t.Fatalf("last progress %v", last)
	}
	// The node still runs on its old DB: it is untouched until Commit.
	if n := countKeys(t, dest); n != 1048 {
		t.Fatalf("old db has %d keys before commit, want 1048", n)
	}
	st := status(t, c, dest)
	if st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_PREPARED ||
		!bytes.Equal(st.GetPrepared().GetSnapshotId(), info.GetSnapshotId()) {
		t.Fatalf("status after prepare: %v", st)
	}
	got := commit(t, c, dest, info.GetSnapshotId())
	if got.GetTerm() != 3 || got.GetIndex() != 42 || !bytes.Equal(got.GetSnapshotId(), info.GetSnapshotId()) {
		t.Fatalf("commit returned %v", got)
	}
	testdb.CheckSameDB(t, leader, dest)
	if st := status(t, c, dest); st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_IDLE || st.GetPrepared() != nil {
		t.Fatalf("status after commit: %v", st)
	}
	if again := commit(t, c, dest, info.GetSnapshotId()); again.GetIndex() != 42 {
		t.Fatalf("repeated commit returned %v", again)
	}
	if staging := filepath.Join(filepath.Dir(dest), ".snapsync-db"); exists(staging) {
		t.Fatalf("staging area %s left after commit", staging)
	}
	_, err = c.Commit(context.Background(), connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: make([]byte, 32)}))
	wantCode(t, err, connect.CodeFailedPrecondition)
}

// countKeys opens the DB at dir read-only and counts its keys.
func countKeys(tb testing.TB, dir string) int {
	tb.Helper()
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: sampledb.QuietLogger{}})
	if err != nil {
		tb.Fatalf("open %s: %v", dir, err)
	}
	defer db.Close()
	it, err := db.NewIter(nil)
	if err != nil {
		tb.Fatal(err)
	}
	n := 0
	for ok := it.First(); ok; ok = it.Next() {
		n++
	}
	if err := it.Close(); err != nil {
		tb.Fatal(err)
	}
	return n
}
