package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testtree"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

// TestServeRepoSource backs a Pebble DB up into a directory repository,
// straight from pebble:DIR (term and index 0) and from an exec: sidecar
// (term 3, index 42), then serves the repository with `serve --source
// repo:REPO` behind a token (a call without it is UNAUTHENTICATED): Probe
// answers the snapshot's term and index, `install` from it installs exactly
// that DB, and an install above its index fails with
// MIN_INDEX_NOT_REACHED. The serve holds the repository's shared lock,
// releases it when stopped, and writes nothing else into the repository.
func TestServeRepoSource(t *testing.T) {
	t.Parallel()
	leader := filepath.Join(t.TempDir(), "leader")
	writePebble(t, leader, sampledb.Fill{Seed: 18, Bytes: 4 << 20})
	for _, tc := range []struct {
		name        string
		term, index uint64
		from        func(t *testing.T) (string, func())
	}{
		{"pebble", 0, 0, func(*testing.T) (string, func()) { return "pebble:" + leader, func() {} }},
		{"exec", 3, 42, func(t *testing.T) (string, func()) {
			script := writeScript(t, `d="$SNAPSYNC_CMD_ROOT/ckpt-$$"
cp -a "`+leader+`" "$d"
printf '{"dir": "%s", "term": 3, "index": 42}\n' "$d"`)
			live := startServe(t, "exec:"+script, "--engine", "pebble")
			return live.URL, live.stop
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, stop := tc.from(t)
			location := filepath.Join(t.TempDir(), "repo")
			backup := runBackup(t, nil, from, location)
			stop()
			serveRepoAndInstall(t, location, leader, backup.SnapshotID, tc.term, tc.index)
		})
	}
}

// serveRepoAndInstall serves the repository at location, which holds
// snapshot id of the Pebble DB leader at term and index, and checks what
// TestServeRepoSource says.
func serveRepoAndInstall(t *testing.T, location, leader, id string, term, index uint64) {
	before := treeListing(t, location)
	token := filepath.Join(t.TempDir(), "token")
	const secret = "repo-source-token-0123456789"
	if err := os.WriteFile(token, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv := runServe(t, "repo:"+location, "--token-file", token, "--max-conns", "64")
	rpc := snapsyncv1connect.NewSnapshotServiceClient(http.DefaultClient, srv.URL)
	if _, err := rpc.Probe(t.Context(), connect.NewRequest(&snapsyncv1.ProbeRequest{})); connect.CodeOf(err) != connect.CodeUnauthenticated {
		t.Fatalf("probe without the token: %v, want UNAUTHENTICATED", err)
	}
	req := connect.NewRequest(&snapsyncv1.ProbeRequest{Client: "e2e"})
	req.Header().Set("Authorization", "Bearer "+secret)
	probe, err := rpc.Probe(t.Context(), req)
	if err != nil {
		t.Fatal(err)
	}
	if p := probe.Msg; p.NewestIndex != index || p.NewestTerm != term || p.CanMakeCheckpoint || p.Engine != "pebble" {
		t.Fatalf("probe of a repo: source: %+v, want term %d, index %d, engine pebble, no checkpoints made", p, term, index)
	}
	if locks := testtree.Names(t, filepath.Join(location, "locks")); len(locks) != 1 || !strings.HasPrefix(locks[0], "backup-") {
		t.Fatalf("locks while serving: %v, want one shared (backup-) lock", locks)
	}

	dest := filepath.Join(t.TempDir(), "follower", "db")
	res := install(t, srv.URL, dest, "--min-index", fmt.Sprint(index), "--token-file", token)
	if res.SnapshotID != id || res.Index != index || res.Term != term {
		t.Fatalf("installed %+v, backed up %s at term %d, index %d", res, id, term, index)
	}
	if n := comparePebble(t, leader, dest); n == 0 {
		t.Fatal("compared no keys")
	}

	r := runSnapsync(context.Background(), nil, "install", "--from", srv.URL, "--dest", filepath.Join(t.TempDir(), "db2"),
		"--min-index", fmt.Sprint(index+1), "--token-file", token)
	if r.Err == nil {
		t.Fatal("an install above the snapshot's index succeeded")
	}
	if line := lastLine(r.Stderr); !strings.Contains(line, "MIN_INDEX_NOT_REACHED") {
		t.Fatalf("error %q does not say the index was not reached", line)
	}

	srv.stop()
	if code := srv.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("serve exited %d on SIGTERM:\n%s", code, tail(srv.logs.String(), 2000))
	}
	if after := treeListing(t, location); after != before {
		t.Fatalf("serving changed the repository:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// treeListing lists every file under root with its size and modification
// time, one a line, to tell whether anything under it changed.
func treeListing(tb testing.TB, root string) string {
	tb.Helper()
	var b strings.Builder
	err := filepath.Walk(root, func(path string, fi os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			fmt.Fprintf(&b, "%s %d %s\n", strings.TrimPrefix(path, root), fi.Size(), fi.ModTime())
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b.String()
}
