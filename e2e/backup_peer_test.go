package e2e

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBackupStalledSource: a source that stops sending half-way (the
// connection stays open, nothing more arrives) fails a backup within the
// stall limit with "no progress", as it fails an install, and nothing is
// committed.
func TestBackupStalledSource(t *testing.T) {
	t.Parallel()
	leader := filepath.Join(t.TempDir(), "leader")
	writeRandomTree(t, leader, 8<<20)
	srv := startServe(t, "dir:"+leader, "--compression", "none")
	px := startProxy(t, srv.Addr, nil)
	px.stallAt.Store(4 << 20)
	location := filepath.Join(t.TempDir(), "repo")
	start := time.Now()
	r := runSnapsync(t.Context(), nil, "backup", "--from", px.URL(), "--to", location, "--stall-timeout", "2s")
	took := time.Since(start)
	if r.Err == nil {
		t.Fatal("a backup through a stalled source succeeded")
	}
	if line := lastLine(r.Stderr); !strings.Contains(line, "no progress") || !strings.Contains(line, "2s") {
		t.Fatalf("error %q does not name the stall", line)
	}
	if took > 30*time.Second {
		t.Fatalf("the stall was noticed after %v, want about 2s", took)
	}
	if ids := listRepo(t, nil, location); len(ids) != 0 {
		t.Fatalf("a stalled backup committed %v", ids)
	}
	t.Logf("stalled after %d bytes, failed in %v", px.fromServer.Load(), took.Round(time.Millisecond))
}

// TestBackupDroppedSource: a source whose connection drops mid-stream is
// retried, as during an install, and the backup completes and verifies.
func TestBackupDroppedSource(t *testing.T) {
	t.Parallel()
	leader := filepath.Join(t.TempDir(), "leader")
	writeRandomTree(t, leader, 8<<20)
	srv := startServe(t, "dir:"+leader, "--compression", "none")
	px := startProxy(t, srv.Addr, nil)
	px.cutAt.Store(4 << 20)
	location := filepath.Join(t.TempDir(), "repo")
	r := snapsyncOK(t, nil, "backup", "--from", px.URL(), "--to", location, "--json", "--log-level", "warn")
	if px.cutAt.Load() != 0 {
		t.Fatal("the proxy never cut a connection")
	}
	if !strings.Contains(r.Stderr, "retrying") {
		t.Fatalf("no retry logged after the cut:\n%s", tail(r.Stderr, 2000))
	}
	var res backupResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil || res.BytesTotal != 8<<20 {
		t.Fatalf("backup --json output %q: %v", r.Stdout, err)
	}
	snapsyncOK(t, nil, "verify", location)
	if ids := listRepo(t, nil, location); len(ids) != 1 || ids[0] != res.SnapshotID {
		t.Fatalf("list after a backup over a dropped connection: %v, want %s", ids, res.SnapshotID)
	}
}

// TestBackupBelowMinIndex: a source whose checkpoint is below --min-index
// fails the backup with MIN_INDEX_NOT_REACHED and commits nothing.
func TestBackupBelowMinIndex(t *testing.T) {
	t.Parallel()
	leader := filepath.Join(t.TempDir(), "leader")
	writeRandomTree(t, leader, 1<<20)
	srv := startServe(t, "dir:"+leader)
	location := filepath.Join(t.TempDir(), "repo")
	r := runSnapsync(t.Context(), nil, "backup", "--from", srv.URL, "--to", location, "--min-index", "1000")
	if r.Err == nil {
		t.Fatal("a backup below --min-index succeeded")
	}
	if line := lastLine(r.Stderr); !strings.Contains(line, "does not reach the index") || !strings.Contains(line, "MIN_INDEX_NOT_REACHED") {
		t.Fatalf("error %q does not say the index was not reached", line)
	}
}
