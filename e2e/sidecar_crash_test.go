package e2e

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/auth"
	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testwait"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

// TestSidecarKilledMidCommit drives a follower sidecar's local API as a node
// would and SIGKILLs the sidecar process inside Commit, at each side of the
// swap. The node's DB directory must hold the old DB or the new one, whole;
// a restarted sidecar's Abort{keep_staging} (the node's start-up call)
// recovers the swap, and a Prepare and a Commit then finish the install.
func TestSidecarKilledMidCommit(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	leaderDB := filepath.Join(root, "leader")
	writePebble(t, leaderDB, sampledb.Fill{Seed: 31, Bytes: 8 << 20})
	oldDB := filepath.Join(root, "old")
	writePebble(t, oldDB, sampledb.Fill{Seed: 32, Bytes: 2 << 20})
	want := pristine(t, leaderDB) // opening a DB changes it: compare against a copy
	leader := startServe(t, "dir:"+leaderDB)
	newFiles, oldFiles := treeFiles(t, leaderDB), treeFiles(t, oldDB)

	for _, point := range []string{"before-swap", "after-swap", "before-cleanup", "old-removed"} {
		t.Run(point, func(t *testing.T) {
			nodeDir := t.TempDir()
			dest := filepath.Join(nodeDir, "db")
			copyTree(t, oldDB, dest)
			sc := startFollowerSidecar(t, nodeDir, "SNAPSYNC_CRASH_AT="+point)
			ctx := t.Context()
			id := prepareVia(ctx, t, sc.local, leader.URL, dest)
			_, err := sc.local.Commit(ctx, connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: id}))
			if err == nil {
				t.Fatalf("Commit succeeded although the sidecar was to die at %s", point)
			}
			if err := sc.cmd.Wait(); !isKilled(err) {
				t.Fatalf("the sidecar did not die at %s: %v", point, err)
			}
			got := treeFiles(t, dest)
			if sameContent(oldFiles, got) != "" && sameContent(newFiles, got) != "" {
				t.Fatalf("after a kill at %s the DB is neither old nor new: vs old %s; vs new %s",
					point, sameContent(oldFiles, got), sameContent(newFiles, got))
			}

			sc = startFollowerSidecar(t, nodeDir)
			if _, err := sc.local.Abort(ctx, connect.NewRequest(&snapsyncv1.AbortRequest{Dest: dest, KeepStaging: true})); err != nil {
				t.Fatalf("start-up Abort: %v", err)
			}
			if got := treeFiles(t, dest); sameContent(oldFiles, got) != "" && sameContent(newFiles, got) != "" {
				t.Fatal("after recovery the DB is neither old nor new")
			}
			id = prepareVia(ctx, t, sc.local, leader.URL, dest)
			if _, err := sc.local.Commit(ctx, connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: id})); err != nil {
				t.Fatalf("Commit after recovery: %v", err)
			}
			if diff := sameContent(newFiles, treeFiles(t, dest)); diff != "" {
				t.Fatalf("after recovery and a new Commit: %s", diff)
			}
			comparePebble(t, want, dest)
		})
	}
}

// followerSidecar is a running `snapsync serve` with a local install API.
type followerSidecar struct {
	cmd   *exec.Cmd
	local snapsyncv1connect.InstallServiceClient
	// peerFile holds its peer listener's address once it listens.
	peerFile string
}

// peerURL is the base URL of its peer listener, once it listens.
func (f *followerSidecar) peerURL(tb testing.TB) string {
	tb.Helper()
	var b []byte
	testwait.Eventually(tb, 30*time.Second, func() (bool, string) {
		b, _ = os.ReadFile(f.peerFile) // absent until it listens
		return len(b) > 0, "the follower sidecar did not open its peer listener"
	})
	return "http://" + strings.TrimSpace(string(b))
}

// startFollowerSidecar runs a sidecar that may install under nodeDir, with
// extra environment (e.g. a crash point), and waits for its local listener.
func startFollowerSidecar(tb testing.TB, nodeDir string, env ...string) *followerSidecar {
	tb.Helper()
	return startFollowerSidecarArgs(tb, nodeDir, env)
}

// startFollowerSidecarArgs is startFollowerSidecar with extra serve flags.
func startFollowerSidecarArgs(tb testing.TB, nodeDir string, env []string, args ...string) *followerSidecar {
	tb.Helper()
	tmp := tb.TempDir()
	localFile, peerFile, tokenFile := filepath.Join(tmp, "local"), filepath.Join(tmp, "peer"), filepath.Join(tmp, "token")
	if err := os.WriteFile(tokenFile, []byte("follower-local-token-0123456789"), 0o600); err != nil {
		tb.Fatal(err)
	}
	token, err := auth.LoadToken(tokenFile)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(binaryFor(env), "serve", "--source", "registry:"+filepath.Join(tmp, "ckpts"),
		"--listen", "127.0.0.1:0", "--addr-file", peerFile, "--work-dir", filepath.Join(tmp, "work"),
		"--local-listen", "127.0.0.1:0", "--local-addr-file", localFile, "--local-token-file", tokenFile,
		"--allow-dest", nodeDir, "--log-format", "json")
	cmd.Args = append(cmd.Args, args...)
	cmd.Env = append(os.Environ(), env...)
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill() // a test's leftover sidecar; its exit is not checked
			_ = cmd.Wait()
		}
	})
	var addr []byte
	testwait.Eventually(tb, 30*time.Second, func() (bool, string) {
		addr, _ = os.ReadFile(localFile) // absent until it listens
		return len(addr) > 0, "the follower sidecar did not open its local listener"
	})
	return &followerSidecar{cmd: cmd, peerFile: peerFile,
		local: snapsyncv1connect.NewInstallServiceClient(client.NewHTTPClient(client.WithToken(token)),
			"http://"+string(addr), connect.WithGRPC())}
}

// prepareVia runs Prepare to its end and returns the prepared snapshot's ID.
func prepareVia(ctx context.Context, tb testing.TB, local snapsyncv1connect.InstallServiceClient, source, dest string) []byte {
	tb.Helper()
	st, err := local.Prepare(ctx, connect.NewRequest(&snapsyncv1.PrepareRequest{SourceUrl: source, Dest: dest}))
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	var id []byte
	for st.Receive() {
		if p := st.Msg().GetPrepared(); p != nil {
			id = p.GetSnapshotId()
		}
	}
	if err := st.Err(); err != nil || id == nil {
		tb.Fatalf("Prepare: %v (prepared %x)", err, id)
	}
	return id
}

func isKilled(err error) bool {
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		return false
	}
	ws, ok := ee.Sys().(syscall.WaitStatus)
	return ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL
}
