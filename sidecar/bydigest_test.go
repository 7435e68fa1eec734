package sidecar

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/verify"
)

// TestCommitServesByDigest: once a local install commits, the sidecar's
// peer listener serves the database it installed by digest (OnCommitted:
// Server.ServeInstalled), and the staged registry is reset.
func TestCommitServesByDigest(t *testing.T) {
	t.Parallel()
	leader := startPeer(t, server.Config{Source: openLeader(t, 512<<10)})
	staged := server.NewStagedChunks(0)
	follower := startPeer(t, server.Config{Source: openLeader(t, 0), Staged: staged})
	l := startLocal(t, InstallConfig{Staged: staged, OnCommitted: follower.srv.ServeInstalled}, nil)
	dest := filepath.Join(l.root, "db")
	info := prepare(t, l.client, leader.url, 0, dest)
	staged.Add(verify.Sum(nil), "/nowhere", 0, 0) // as an install would
	commit(t, l.client, dest, info.GetSnapshotId())
	if n := staged.Len(); n != 0 {
		t.Errorf("%d staged chunks after the commit", n)
	}

	ds := destDigests(t, dest)
	raw := make([][]byte, len(ds))
	for i := range ds {
		raw[i] = ds[i][:]
	}
	c := snapsyncv1connect.NewSnapshotServiceClient(client.NewHTTPClient(), follower.url)
	res, err := c.HasChunks(context.Background(), connect.NewRequest(&snapsyncv1.HasChunksRequest{Digests: raw}))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ds {
		if res.Msg.GetHave()[i/8]&(1<<(i%8)) == 0 {
			t.Errorf("chunk %d of the installed database not served", i)
		}
	}
	if len(ds) == 0 {
		t.Fatal("the installed database has no chunks")
	}
}

// destDigests returns the digests of the chunks of dest's files, cut as the
// leader cuts them.
func destDigests(tb testing.TB, dest string) []verify.Digest {
	tb.Helper()
	var ds []verify.Digest
	err := filepath.WalkDir(dest, func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for off := 0; off < len(b); off += testChunkSize {
			ds = append(ds, verify.Sum(b[off:min(off+testChunkSize, len(b))]))
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return ds
}
