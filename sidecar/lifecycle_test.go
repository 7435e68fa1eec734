package sidecar

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/testdb"
	"github.com/snapsync/snapsync/internal/testwait"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
)

// wantError fails unless err is a Connect error with code whose message
// holds text.
func wantError(tb testing.TB, err error, code connect.Code, text string) {
	tb.Helper()
	wantCode(tb, err, code)
	if !strings.Contains(err.Error(), text) {
		tb.Fatalf("error %q does not say %q", err, text)
	}
}

// commitErr runs Commit and returns its error.
func commitErr(c snapsyncv1connect.InstallServiceClient, dest string, id []byte) error {
	_, err := c.Commit(context.Background(), connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: id}))
	return err
}

// waitState polls Status until dest is in want.
func waitState(tb testing.TB, c snapsyncv1connect.InstallServiceClient, dest string, want snapsyncv1.InstallState) *snapsyncv1.StatusResponse {
	tb.Helper()
	var st *snapsyncv1.StatusResponse
	testwait.Eventually(tb, waitLimit, func() (bool, string) {
		st = status(tb, c, dest)
		return st.GetProgress().GetState() == want, fmt.Sprintf("state %v, want %v", st, want)
	})
	return st
}

// TestCommitRefusals: Commit before Prepare, during it, with a malformed or
// unknown snapshot ID: each a clear error, and the install still completes.
func TestCommitRefusals(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 2<<20)
	p := startPeer(t, server.Config{Source: leader})
	g := newGate("manifest-fetched", 1)
	defer g.open()
	l := startLocal(t, InstallConfig{Client: client.Config{Hook: g.hook}}, nil)
	c, dest := l.client, filepath.Join(l.root, "db")

	wantError(t, commitErr(c, dest, make([]byte, 32)), connect.CodeFailedPrecondition, "nothing prepared")
	ps := startPrepare(t, c, p.url, 0, dest)
	g.wait(t)
	wantError(t, commitErr(c, dest, make([]byte, 32)), connect.CodeFailedPrecondition, "prepare still running")
	wantError(t, commitErr(c, dest, []byte{1, 2, 3}), connect.CodeInvalidArgument, "snapshot_id")
	if st := status(t, c, dest); st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_PREPARING {
		t.Fatalf("status during prepare: %v", st)
	}
	g.open()
	info, err := ps.finish()
	if err != nil {
		t.Fatal(err)
	}
	wrong := bytes.Repeat([]byte{0xab}, 32)
	wantError(t, commitErr(c, dest, wrong), connect.CodeNotFound, "not the prepared snapshot")
	if got := commit(t, c, dest, info.GetSnapshotId()); !bytes.Equal(got.GetSnapshotId(), info.GetSnapshotId()) {
		t.Fatalf("commit returned %v", got)
	}
	testdb.CheckSameDB(t, leader.DB(), dest)

	// A leader whose checkpoint cannot reach min_index: FAILED, saying so.
	other := filepath.Join(l.root, "other")
	_, err = startPrepare(t, c, p.url, 100, other).finish()
	wantError(t, err, connect.CodeFailedPrecondition, "does not reach")
	if st := status(t, c, other); st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_FAILED ||
		!strings.Contains(st.GetError(), "does not reach") {
		t.Fatalf("status after a prepare the leader cannot serve: %v", st)
	}
}

// TestBadRequests: destinations outside the allowed roots, malformed
// destinations and source URLs are refused with a clear error, by every
// method, and nothing is created.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	l := startLocal(t, InstallConfig{}, nil)
	outside := t.TempDir()
	link := filepath.Join(l.root, "escape")
	if err := os.Symlink(outside, link); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(l.root, "dblink")); err != nil {
		t.Fatal(err)
	}
	const source = "http://127.0.0.1:1"
	testCases := []struct {
		name, dest, source string
		code               connect.Code
		text               string
	}{
		{"outside", filepath.Join(outside, "db"), source, connect.CodePermissionDenied, "not under an allowed root"},
		{"dotdot", l.root + "/../" + filepath.Base(outside) + "/db", source, connect.CodePermissionDenied, "not under an allowed root"},
		{"parent symlink escapes", filepath.Join(link, "db"), source, connect.CodePermissionDenied, "not under an allowed root"},
		{"dest is a symlink", filepath.Join(l.root, "dblink"), source, connect.CodeInvalidArgument, "not a directory"},
		{"relative", "db", source, connect.CodeInvalidArgument, "not an absolute path"},
		{"empty", "", source, connect.CodeInvalidArgument, "dest is required"},
		{"missing parent", filepath.Join(l.root, "no", "db"), source, connect.CodeInvalidArgument, "parent of dest"},
		{"staging area", filepath.Join(l.root, ".snapsync-db"), source, connect.CodeInvalidArgument, "staging area"},
		{"no source", filepath.Join(l.root, "db"), "", connect.CodeInvalidArgument, "source_url is required"},
		{"ftp source", filepath.Join(l.root, "db"), "ftp://h:1", connect.CodeInvalidArgument, "want http"},
		{"source without host", filepath.Join(l.root, "db"), "http://", connect.CodeInvalidArgument, "want http"},
	}
	ctx := context.Background()
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			s, err := l.client.Prepare(ctx, connect.NewRequest(&snapsyncv1.PrepareRequest{SourceUrl: tc.source, Dest: tc.dest}))
			if err == nil {
				defer s.Close()
				for s.Receive() {
					t.Fatalf("prepare sent %v", s.Msg())
				}
				err = s.Err()
			}
			wantError(t, err, tc.code, tc.text)
			if tc.source != source {
				return // the other methods take no source
			}
			_, err = l.client.Status(ctx, connect.NewRequest(&snapsyncv1.StatusRequest{Dest: tc.dest}))
			wantError(t, err, tc.code, tc.text)
			wantError(t, commitErr(l.client, tc.dest, make([]byte, 32)), tc.code, tc.text)
			_, err = l.client.Abort(ctx, connect.NewRequest(&snapsyncv1.AbortRequest{Dest: tc.dest}))
			wantError(t, err, tc.code, tc.text)
		})
	}
	t.Run("root itself", func(t *testing.T) {
		// A whole-directory Prepare or a Commit of a root is refused; Status
		// and Abort of a root (the dest of a set install) report and give
		// back nothing.
		s, err := l.client.Prepare(ctx, connect.NewRequest(&snapsyncv1.PrepareRequest{SourceUrl: source, Dest: l.root}))
		if err == nil {
			defer s.Close()
			for s.Receive() {
				t.Fatalf("prepare sent %v", s.Msg())
			}
			err = s.Err()
		}
		wantError(t, err, connect.CodePermissionDenied, "not under an allowed root")
		wantError(t, commitErr(l.client, l.root, make([]byte, 32)), connect.CodePermissionDenied, "holds no set install")
		st, err := l.client.Status(ctx, connect.NewRequest(&snapsyncv1.StatusRequest{Dest: l.root}))
		if err != nil || st.Msg.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_IDLE {
			t.Fatalf("Status of the root: %v, %v; want IDLE", st, err)
		}
		if _, err := l.client.Abort(ctx, connect.NewRequest(&snapsyncv1.AbortRequest{Dest: l.root, KeepStaging: true})); err != nil {
			t.Fatalf("Abort of the root: %v", err)
		}
	})
	for _, dir := range []string{outside, l.root} {
		if ents, _ := os.ReadDir(dir); len(ents) > 2 {
			t.Errorf("%s holds %d entries after refused requests", dir, len(ents))
		}
	}
}

// TestPrepareRace: two Prepares for one destination at once both end with
// the same snapshot, fetched once.
func TestPrepareRace(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 4<<20)
	p := startPeer(t, server.Config{Source: leader})
	g := newGate("manifest-fetched", 1)
	defer g.open()
	l := startLocal(t, InstallConfig{Client: client.Config{Hook: g.hook, Compression: snapsyncv1.Compression_COMPRESSION_NONE}}, nil)
	dest := filepath.Join(l.root, "db")
	var wg sync.WaitGroup
	streams := make([]*prepareStream, 2)
	for i := range streams {
		wg.Go(func() { streams[i] = startPrepare(t, l.client, p.url, 10, dest) })
	}
	wg.Wait() // both calls are in: the second joined the first
	g.wait(t)
	g.open()
	infos := make([]*snapsyncv1.SnapshotInfo, 2)
	for i, ps := range streams {
		info, err := ps.finish()
		if err != nil {
			t.Fatalf("prepare %d: %v", i, err)
		}
		infos[i] = info
	}
	if !bytes.Equal(infos[0].GetSnapshotId(), infos[1].GetSnapshotId()) {
		t.Fatalf("two snapshots prepared: %x, %x", infos[0].GetSnapshotId(), infos[1].GetSnapshotId())
	}
	if calls := g.calls.Load(); calls != 1 {
		t.Fatalf("%d manifests fetched, want 1", calls)
	}
	if read, total := p.srv.Stats().BytesRead, int64(infos[0].GetTotalBytes()); read > total {
		t.Fatalf("server read %d bytes for a %d-byte snapshot: fetched more than once", read, total)
	}
	// A third Prepare of a satisfied index returns at once, from the staging.
	again := prepare(t, l.client, p.url, 10, dest)
	if !bytes.Equal(again.GetSnapshotId(), infos[0].GetSnapshotId()) {
		t.Fatalf("repeated prepare returned %x", again.GetSnapshotId())
	}
	commit(t, l.client, dest, again.GetSnapshotId())
	testdb.CheckSameDB(t, leader.DB(), dest)
}

// TestAbort: Abort with keep_staging ends a running Prepare and keeps what
// it staged, so the next Prepare fetches only the rest; Abort without it
// gives the staging area back.
func TestAbort(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 4<<20)
	p := startPeer(t, server.Config{Source: leader})
	g := newGate("chunk-written", 16)
	defer g.open()
	l := startLocal(t, InstallConfig{Client: client.Config{Hook: g.hook, Streams: 2, ChunksPerRequest: 4,
		Compression: snapsyncv1.Compression_COMPRESSION_NONE}}, nil)
	dest := filepath.Join(l.root, "db")
	staging := filepath.Join(l.root, ".snapsync-db")
	ps := startPrepare(t, l.client, p.url, 0, dest)
	g.wait(t)
	aborted := make(chan error, 1)
	go func() {
		_, err := l.client.Abort(context.Background(), connect.NewRequest(&snapsyncv1.AbortRequest{Dest: dest, KeepStaging: true}))
		aborted <- err
	}()
	waitState(t, l.client, dest, snapsyncv1.InstallState_INSTALL_STATE_IDLE)
	g.open()
	_, err := ps.finish()
	wantError(t, err, connect.CodeAborted, "aborted by Abort")
	if err := <-aborted; err != nil {
		t.Fatalf("abort: %v", err)
	}
	if !exists(filepath.Join(staging, "stage")) {
		t.Fatal("abort with keep_staging removed the staging")
	}
	first := p.srv.Stats().BytesSent
	info := prepare(t, l.client, p.url, 0, dest)
	second := p.srv.Stats().BytesSent - first
	if total := int64(info.GetTotalBytes()); second > total-10*testChunkSize {
		t.Fatalf("resumed prepare fetched %d of %d bytes; the first had %d", second, total, first)
	}
	if _, err := l.client.Abort(context.Background(), connect.NewRequest(&snapsyncv1.AbortRequest{Dest: dest})); err != nil {
		t.Fatal(err)
	}
	if exists(staging) || exists(dest) {
		t.Fatal("abort left the staging area or made the destination")
	}
	wantError(t, commitErr(l.client, dest, info.GetSnapshotId()), connect.CodeFailedPrecondition, "nothing prepared")
	fresh := filepath.Join(l.root, "fresh")
	if _, err := l.client.Abort(context.Background(), connect.NewRequest(&snapsyncv1.AbortRequest{Dest: fresh, KeepStaging: true})); err != nil {
		t.Fatalf("abort with nothing staged: %v", err)
	}
	if ents, err := os.ReadDir(l.root); err != nil || len(ents) != 0 {
		t.Fatalf("abort with nothing staged left %v (%v)", ents, err)
	}
}
