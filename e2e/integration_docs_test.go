package e2e

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testwait"
)

// TestIntegrationDocExample runs the grpcurl block of docs/INTEGRATION.md as
// written, with the grpcurl pinned in tools/go.mod, against a real leader sidecar
// (registry: source) and a real follower sidecar (local InstallService), and
// checks that the follower ends up with the leader's checkpoint.
func TestIntegrationDocExample(t *testing.T) {
	t.Parallel()
	script := docBlock(t, filepath.Join("..", "docs", "INTEGRATION.md"), "grpcurl-example")
	bin := t.TempDir()
	tools, err := filepath.Abs(filepath.Join("..", "tools", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	build := exec.Command("go", "build", "-modfile="+tools, "-o", filepath.Join(bin, "grpcurl"), "github.com/fullstorydev/grpcurl/cmd/grpcurl")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build grpcurl: %v\n%s", err, out)
	}

	root := t.TempDir()
	leaderDB, registryRoot := filepath.Join(root, "leader-db"), filepath.Join(root, "leader-ckpts")
	writePebble(t, leaderDB, sampledb.Fill{Seed: 11, Bytes: 8 << 20})
	ckpt := filepath.Join(registryRoot, "ckpt-1200")
	checkpointPebble(t, leaderDB, ckpt)
	leader, leaderLocal := startSidecar(t, "registry:"+registryRoot)
	dest := filepath.Join(root, "follower", "om.db")
	writePebble(t, dest, sampledb.Fill{Seed: 12, Bytes: 1 << 20}) // the follower's old DB
	_, followerLocal := startSidecar(t, "registry:"+filepath.Join(root, "follower-ckpts"),
		"--allow-dest", filepath.Dir(dest))

	cmd := exec.Command("bash", "-euo", "pipefail", "-c", script)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"LEADER_PEER="+leader.Addr, "LEADER_LOCAL="+leaderLocal, "FOLLOWER_LOCAL="+followerLocal,
		"CKPT="+ckpt, "DEST="+dest)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("the documented grpcurl session failed: %v\n%s", err, out.String())
	}
	for _, want := range []string{`"status": "SERVING"`, "snapsync.v1.InstallService", "grpc.health.v1.Health\n",
		"grpc.health.v1.Health is a service", `"registered": 1`,
		`"prepared"`, "INSTALL_STATE_PREPARED", `"index": "1200"`, `"rollbackAvailable": true`, `"finalized": true`,
		"rpc Rollback ( .snapsync.v1.RollbackRequest )", "rpc Finalize ( .snapsync.v1.FinalizeRequest )", "bool keep_old = 4;"} {
		if !strings.Contains(out.String(), want) {
			t.Fatalf("grpcurl output lacks %s:\n%s", want, out.String())
		}
	}
	comparePebble(t, leaderDB, dest)
}

// docBlock returns the code block of a markdown file between
// <!-- NAME:begin --> and <!-- NAME:end -->, without its fences.
func docBlock(tb testing.TB, path, name string) string {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "<!-- "+name+":begin -->")
	block, _, ok2 := strings.Cut(rest, "<!-- "+name+":end -->")
	if !ok || !ok2 {
		tb.Fatalf("%s has no %s block", path, name)
	}
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(block), "\n") {
		if !strings.HasPrefix(l, "```") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// checkpointPebble makes a Pebble checkpoint of the closed DB at dir into
// out, as a node would before registering it.
func checkpointPebble(tb testing.TB, dir, out string) {
	tb.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: sampledb.QuietLogger{}})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := db.Checkpoint(out, pebble.WithFlushedWAL()); err != nil {
		tb.Fatal(err)
	}
}

// startSidecar runs `snapsync serve` with a local listener too, on a unix
// socket, and returns it with the socket's path once both listen.
func startSidecar(tb testing.TB, source string, args ...string) (*serveProc, string) {
	tb.Helper()
	dir := tb.TempDir()
	localFile := filepath.Join(dir, "local-addr")
	p := startServe(tb, source, append([]string{"--local-listen", "unix:" + filepath.Join(dir, "local.sock"),
		"--local-addr-file", localFile}, args...)...)
	var addr []byte
	testwait.Eventually(tb, 30*time.Second, func() (bool, string) {
		addr, _ = os.ReadFile(localFile) // absent until it listens
		return len(addr) > 0, "sidecar did not open its local listener:\n" + p.logs.String()
	})
	return p, strings.TrimPrefix(string(addr), "unix:")
}
