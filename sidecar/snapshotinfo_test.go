package sidecar

import (
	"context"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// TestSnapshotInfoSameEverywhere: the SnapshotInfo of Prepare's prepared
// message, of Status and of Commit's reply equals, field by field (labels,
// engine, creation time, chunk and manifest sizes included), the peer's
// CreateSnapshot info for the same snapshot.
func TestSnapshotInfoSameEverywhere(t *testing.T) {
	t.Parallel()
	cp := checkpointOf(t, openLeader(t, 1<<20).DB())
	meta := verify.Meta{Term: 5, Index: 77, Engine: "pebble", CreatedUnixNano: 1_700_000_000_123_456_789,
		Labels: map[string]string{"om": "om1", "cluster": "c7"}}
	src, err := dirsource.New(cp, meta)
	if err != nil {
		t.Fatal(err)
	}
	p := startPeer(t, server.Config{Source: src})
	peerResp, err := snapsyncv1connect.NewSnapshotServiceClient(client.NewHTTPClient(), p.url).
		CreateSnapshot(context.Background(), connect.NewRequest(&snapsyncv1.CreateSnapshotRequest{MinIndex: 77}))
	if err != nil {
		t.Fatal(err)
	}
	want := peerResp.Msg.GetSnapshot()
	if want.GetChunkSize() == 0 || want.GetManifestSize() == 0 || len(want.GetLabels()) != 2 {
		t.Fatalf("peer info lacks fields: %v", want)
	}
	l := startLocal(t, InstallConfig{}, nil)
	dest := filepath.Join(l.root, "db")
	check := func(what string, got *snapsyncv1.SnapshotInfo) {
		t.Helper()
		if !proto.Equal(got, want) {
			t.Errorf("%s: got %v, want the peer's %v", what, got, want)
		}
	}
	check("prepare", prepare(t, l.client, p.url, 77, dest))
	check("prepare again (already staged)", prepare(t, l.client, p.url, 77, dest))
	check("status", status(t, l.client, dest).GetPrepared())
	check("commit", commit(t, l.client, dest, want.GetSnapshotId()))
}
