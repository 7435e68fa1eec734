package server

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jonboulle/clockwork"

	"github.com/snapsync/snapsync/verify"
)

// TestManifestDamagedOnDisk: the server serves a manifest from its state
// dir, so bytes changed there fail GetManifest with DataLoss rather than
// reach a client, and a restarted server drops the checkpoint.
func TestManifestDamagedOnDisk(t *testing.T) {
	t.Parallel()
	src := openPebble(t, 1<<20)
	work := filepath.Join(t.TempDir(), "work")
	cfg := Config{Source: src, WorkDir: work, ReuseWithin: -1, Clock: clockwork.NewFakeClockAt(time.Now())}
	ts := startServer(t, cfg)
	resp := ts.create(t, 0, 60_000)
	id := resp.GetSnapshot().GetSnapshotId()
	good, err := ts.manifestBytes(id)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(work, stateDirName, verify.Digest(id).String()+manifestExt)
	bad := append([]byte(nil), good...)
	bad[len(bad)-1] ^= 1 // the last chunk's digest
	if err := os.WriteFile(path, bad, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ts.manifestBytes(id); codeOfErr(err) != connect.CodeDataLoss {
		t.Fatalf("GetManifest of a manifest damaged on disk: %v, want DataLoss", err)
	}
	ts.stop()
	ts = startServer(t, cfg)
	if _, err := ts.manifestBytes(id); codeOfErr(err) != connect.CodeNotFound {
		t.Fatalf("after restart: %v, want NotFound (the damaged checkpoint dropped)", err)
	}
}
