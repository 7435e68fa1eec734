package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// installJSON is what these tests read of `install --json`.
type installJSON struct {
	BytesFetched  int64            `json:"bytes_fetched"`
	BytesBySource map[string]int64 `json:"bytes_by_source"`
}

func parseInstall(tb testing.TB, stdout string) installJSON {
	tb.Helper()
	var out installJSON
	if err := json.Unmarshal([]byte(stdout), &out); err != nil {
		tb.Fatalf("install --json: %v\n%s", err, stdout)
	}
	return out
}

// olderAndNewer writes a tree of three random files, copies it, and adds a
// fourth to the copy: the older checkpoint and the newer one with about
// 25% new data.
func olderAndNewer(tb testing.TB) (older, newer string, newBytes int64) {
	tb.Helper()
	older = filepath.Join(tb.TempDir(), "older")
	for range 3 {
		writeRandomTree(tb, older, 3<<20)
	}
	newer = filepath.Join(tb.TempDir(), "newer")
	if out, err := exec.Command("cp", "-a", older, newer).CombinedOutput(); err != nil {
		tb.Fatalf("cp: %v\n%s", err, out)
	}
	writeRandomTree(tb, newer, 2<<20)
	return older, newer, 2 << 20
}

// TestChunksFrom installs the newer checkpoint from a leader sidecar with a
// chunk source that holds the older one: a backup repository (served in
// the install's process) and a follower sidecar that installed it (serving
// its installed DB by digest). Each time the copy is exact and the leader
// sends about the new data only, the source the rest.
func TestChunksFrom(t *testing.T) {
	ctx := t.Context()
	older, newer, newBytes := olderAndNewer(t)
	leader := runServe(t, "dir:"+newer)
	defer leader.stop()
	repoDir := filepath.Join(t.TempDir(), "repo")
	snapsyncOK(t, nil, "backup", "--from", "dir:"+older, "--to", repoDir, "--cache-dir", "")
	// The follower installs the older checkpoint from a sidecar of its own.
	oldLeader := runServe(t, "dir:"+older)
	defer oldLeader.stop()
	node := t.TempDir()
	follower := startFollowerSidecarArgs(t, node, nil)
	id := prepareVia(ctx, t, follower.local, oldLeader.URL, filepath.Join(node, "db"))
	if _, err := follower.local.Commit(ctx, connect.NewRequest(&snapsyncv1.CommitRequest{Dest: filepath.Join(node, "db"), SnapshotId: id})); err != nil {
		t.Fatal(err)
	}
	peer := follower.peerURL(t)
	for _, tc := range []struct{ name, source string }{
		{"backup repository", repoDir},
		{"follower sidecar's installed DB", peer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "db")
			r := snapsyncOK(t, nil, "install", "--from", leader.URL, "--chunks-from", tc.source, "--dest", dest, "--json")
			out := parseInstall(t, r.Stdout)
			fromSource := out.BytesBySource[tc.source]
			fromLeader := out.BytesFetched - fromSource
			t.Logf("leader %d bytes, %s %d bytes (new data %d)", fromLeader, tc.name, fromSource, newBytes)
			if fromLeader > newBytes*13/10 || fromSource == 0 {
				t.Fatalf("the leader sent %d bytes for %d of new data; the source %d", fromLeader, newBytes, fromSource)
			}
			if diff := sameContent(treeFiles(t, newer), treeFiles(t, dest)); diff != "" {
				t.Fatal(diff)
			}
		})
	}
}

// TestChunksFromRefused: a chunk source that is not one (no repository at
// the path) fails the install before anything is fetched, and names it.
func TestChunksFromRefused(t *testing.T) {
	_, newer, _ := olderAndNewer(t)
	leader := runServe(t, "dir:"+newer)
	defer leader.stop()
	missing := filepath.Join(t.TempDir(), "no-repo")
	if err := os.MkdirAll(missing, 0o755); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(t.TempDir(), "db")
	r := runSnapsync(t.Context(), nil, "install", "--from", leader.URL, "--chunks-from", missing, "--dest", dest)
	if r.Err == nil || !strings.Contains(r.Stderr, "--chunks-from "+missing) {
		t.Fatalf("install with a chunk source that is no repository: %v\n%s", r.Err, r.Stderr)
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("dest after a refused install: %v", err)
	}
}
