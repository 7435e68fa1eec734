package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/s3test"
	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testwait"
	"github.com/snapsync/snapsync/repo"
	dirbackend "github.com/snapsync/snapsync/repo/dir"
	s3backend "github.com/snapsync/snapsync/repo/s3"
)

// backupResult mirrors `snapsync backup --json`.
type backupResult struct {
	SnapshotID   string `json:"snapshot_id"`
	Files        int    `json:"files"`
	BytesTotal   int64  `json:"bytes_total"`
	BytesNew     int64  `json:"bytes_new"`
	ChunksNew    int    `json:"chunks_new"`
	ChunksReused int    `json:"chunks_reused"`
}

// repoKind is where a test keeps its repository: a directory, or a bucket of
// a versitygw S3 server started for the test.
type repoKind struct {
	name string
	make func(tb testing.TB) (location string, env []string)
}

var repoKinds = []repoKind{
	{"dir", func(tb testing.TB) (string, []string) { return filepath.Join(tb.TempDir(), "repo"), nil }},
	{"s3", func(tb testing.TB) (string, []string) {
		s := s3test.Start(tb)
		return "s3://" + s.Bucket + "/backups", []string{"AWS_ACCESS_KEY_ID=" + s.AccessKey,
			"AWS_SECRET_ACCESS_KEY=" + s.SecretKey, "AWS_ENDPOINT_URL=" + s.URL(), "AWS_REGION=us-east-1"}
	}},
}

// snapsyncOK runs the binary and fails the test unless it succeeds.
func snapsyncOK(tb testing.TB, env []string, args ...string) runResult {
	tb.Helper()
	r := runSnapsync(context.Background(), env, args...)
	if r.Err != nil {
		tb.Fatalf("snapsync %s: %v\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.Err, tail(r.Stdout, 2000), tail(r.Stderr, 4000))
	}
	return r
}

// runBackup runs `snapsync backup --json` and returns its figures.
func runBackup(tb testing.TB, env []string, from, to string, args ...string) backupResult {
	tb.Helper()
	r := snapsyncOK(tb, env, append([]string{"backup", "--from", from, "--to", to, "--json", "--log-level", "warn"}, args...)...)
	if strings.ContainsRune(r.Stderr, '\r') || strings.Contains(r.Stderr, "backup ") {
		tb.Fatalf("a progress bar on a stderr that is no terminal:\n%q", tail(r.Stderr, 500))
	}
	var res backupResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		tb.Fatalf("backup --json output %q: %v", r.Stdout, err)
	}
	return res
}

// restore runs `snapsync restore --json` and fails the test on error.
func restore(tb testing.TB, env []string, from, dest string, args ...string) installResult {
	tb.Helper()
	r := snapsyncOK(tb, env, append([]string{"restore", "--from", from, "--dest", dest, "--json", "--log-level", "warn"}, args...)...)
	var res installResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		tb.Fatalf("restore --json output %q: %v", r.Stdout, err)
	}
	return res
}

// listRepo returns the snapshot IDs `snapsync list --json` prints; args
// are more flags (--key-file).
func listRepo(tb testing.TB, env []string, location string, args ...string) []string {
	tb.Helper()
	r := snapsyncOK(tb, env, append([]string{"list", location, "--json"}, args...)...)
	var out listOutput
	if err := json.Unmarshal([]byte(r.Stdout), &out); err != nil || len(out.Problems) > 0 {
		tb.Fatalf("list --json output %q: %v", r.Stdout, err)
	}
	ids := make([]string, len(out.Snapshots))
	for i, s := range out.Snapshots {
		ids[i] = s.SnapshotID
	}
	return ids
}

// TestBackupRestorePebble backs a Pebble DB up into each kind of repository,
// restores it key by key, then backs up again after 5% more data and checks
// that the second backup stores at most 10% of the first's bytes.
func TestBackupRestorePebble(t *testing.T) {
	for _, kind := range repoKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			location, env := kind.make(t)
			leader := filepath.Join(t.TempDir(), "leader")
			const fill = 48 << 20
			writePebble(t, leader, sampledb.Fill{Seed: 1, Bytes: fill})
			first := runBackup(t, env, "pebble:"+leader, location, "--label", "cluster=test")
			if first.BytesNew == 0 || first.ChunksNew == 0 || first.ChunksReused != 0 {
				t.Fatalf("first backup: %+v", first)
			}
			dest := filepath.Join(t.TempDir(), "restored", "db")
			res := restore(t, env, location, dest)
			if res.SnapshotID != first.SnapshotID {
				t.Fatalf("restored %s, backed up %s", res.SnapshotID, first.SnapshotID)
			}
			comparePebble(t, leader, dest)

			writePebble(t, leader, sampledb.Fill{Seed: 2, Bytes: fill / 20})
			second := runBackup(t, env, "pebble:"+leader, location)
			t.Logf("first backup %+v; second %+v: %.1f%% of the first's bytes stored", first, second,
				100*float64(second.BytesNew)/float64(first.BytesNew))
			if second.BytesNew > first.BytesNew/10 || second.ChunksReused == 0 {
				t.Fatalf("second backup stored %d bytes, more than 10%% of the first's %d", second.BytesNew, first.BytesNew)
			}
			if ids := listRepo(t, env, location); len(ids) != 2 || ids[1] != second.SnapshotID {
				t.Fatalf("list: %v, want [%s %s]", ids, first.SnapshotID, second.SnapshotID)
			}
			snapsyncOK(t, env, "verify", location)
			restore(t, env, location, dest)
			comparePebble(t, leader, dest)
			restore(t, env, location, dest, "--snapshot", first.SnapshotID)
			if n := comparePebble(t, pristineFirst(t, leader), dest); n == 0 {
				t.Fatal("no keys compared")
			}
		})
	}
}

// pristineFirst is a Pebble DB holding only the first fill of the leader's,
// for comparing a restore of the first snapshot.
func pristineFirst(tb testing.TB, _ string) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "first")
	writePebble(tb, dir, sampledb.Fill{Seed: 1, Bytes: 48 << 20})
	return dir
}

// TestBackupRestoreRocksDB backs a RocksDB checkpoint (db_bench, ldb
// checkpoint) up into each kind of repository and restores it: the same
// files, and the same `ldb scan`.
func TestBackupRestoreRocksDB(t *testing.T) {
	needRocksDB(t)
	root := t.TempDir()
	live, ckpt := filepath.Join(root, "live"), filepath.Join(root, "ckpt")
	fillRocksDB(t, live, 100000, 7)
	checkpoint(t, live, ckpt)
	source, want := treeFiles(t, ckpt), scan(t, ckpt)
	for _, kind := range repoKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			location, env := kind.make(t)
			runBackup(t, env, "dir:"+ckpt, location)
			dest := filepath.Join(t.TempDir(), "db")
			restore(t, env, location, dest)
			if diff := sameContent(source, treeFiles(t, dest)); diff != "" {
				t.Fatalf("restored tree differs: %s", diff)
			}
			checkConsistency(t, dest)
			if got := scan(t, dest); got != want || len(got) < 1000 {
				t.Fatalf("ldb scan differs (%d vs %d bytes)", len(got), len(want))
			}
		})
	}
}

// openBackend opens the repository at location the way the binary does,
// with env's AWS_* settings instead of the test process's.
func openBackend(tb testing.TB, location string, env []string) repo.Backend {
	tb.Helper()
	if !strings.HasPrefix(location, "s3://") {
		b, err := dirbackend.New(location)
		if err != nil {
			tb.Fatal(err)
		}
		return b
	}
	getenv := func(k string) string {
		for _, kv := range env {
			if v, ok := strings.CutPrefix(kv, k+"="); ok {
				return v
			}
		}
		return ""
	}
	cfg, err := s3backend.FromURL(location, getenv)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := s3backend.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// objectKeys returns the keys of the objects below prefix: a format-2
// repository keeps its chunks in packs/ (docs/OPERATIONS.md).
func objectKeys(tb testing.TB, b repo.Backend, prefix string) []string {
	tb.Helper()
	var out []string
	for k, err := range b.List(context.Background(), prefix) {
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, k)
	}
	return out
}

// TestBackupCorruptChunk damages one pack of each kind of repository (a
// byte of a chunk of an SST flipped: no file of the old DB holds it):
// verify names the chunk and fails; restore fails naming it too and leaves
// the old DB byte for byte.
func TestBackupCorruptChunk(t *testing.T) {
	for _, kind := range repoKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			location, env := kind.make(t)
			leader := filepath.Join(t.TempDir(), "leader")
			writePebble(t, leader, sampledb.Fill{Seed: 3, Bytes: 8 << 20})
			runBackup(t, env, "pebble:"+leader, location)
			dest := filepath.Join(t.TempDir(), "db")
			writePebble(t, dest, sampledb.Fill{Seed: 4, Bytes: 1 << 20})
			before := treeFiles(t, dest)

			b := openBackend(t, location, env)
			bad := largest(t, b, objectKeys(t, b, "packs/"))
			body := readObject(t, b, bad)
			body[len(body)/2] ^= 0x40
			if err := b.Put(context.Background(), bad, bytes.NewReader(body), int64(len(body))); err != nil {
				t.Fatal(err)
			}
			v := runSnapsync(context.Background(), env, "verify", location)
			digest := damagedChunk.FindStringSubmatch(v.Stdout)
			if v.Err == nil || digest == nil || !strings.Contains(v.Stdout, "damaged snapshot") {
				t.Fatalf("verify of a damaged repository: %v\nstdout:\n%s\nstderr:\n%s", v.Err, v.Stdout, v.Stderr)
			}
			r := runSnapsync(context.Background(), env, "restore", "--from", location, "--dest", dest, "--log-level", "warn")
			if r.Err == nil || !strings.Contains(r.Stderr, digest[1]) {
				t.Fatalf("restore from a damaged repository (chunk %s): %v\nstderr:\n%s", digest[1], r.Err, r.Stderr)
			}
			if diff := sameContent(before, treeFiles(t, dest)); diff != "" {
				t.Fatalf("the old DB changed after a refused restore: %s", diff)
			}
		})
	}
}

// damagedChunk finds the chunk verify names in a damaged snapshot.
var damagedChunk = regexp.MustCompile(`(?m)^\s+chunk ([0-9a-f]{64}):`)

// readObject returns the whole object at key.
func readObject(tb testing.TB, b repo.Backend, key string) []byte {
	tb.Helper()
	rc, err := b.Get(context.Background(), key)
	if err != nil {
		tb.Fatal(err)
	}
	defer rc.Close()
	body, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatal(err)
	}
	return body
}

// slowBackup starts a backup from a sidecar held to a slow rate, so that it
// runs for seconds, and returns it running.
func slowBackup(tb testing.TB, env []string, url, location string, stdout, stderr *strings.Builder) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(binary, "backup", "--from", url, "--to", location, "--json", "--log-level", "warn", "--streams", "2")
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = stdout, stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill() // the test failed early; the child must not outlive it
			_ = cmd.Wait()
		}
	})
	return cmd
}

// waitObjects polls a repository until it holds at least n objects below
// prefix.
func waitObjects(tb testing.TB, b repo.Backend, prefix string, n int) {
	tb.Helper()
	testwait.Eventually(tb, 60*time.Second, func() (bool, string) {
		got := len(objectKeys(tb, b, prefix))
		return got >= n, fmt.Sprintf("repository holds %d objects below %s, not %d", got, prefix, n)
	})
}

// TestBackupKilledThenRerun SIGKILLs a backup once it has stored a pack,
// then reruns it: the repository verifies before and after, lists one
// snapshot, and restores exactly. (A backup of less than a gigabyte writes
// its index at its end, so the rerun uploads again what the killed one had
// packed; that pack is garbage a prune removes once the killed backup's
// lock is stale: docs/OPERATIONS.md.)
func TestBackupKilledThenRerun(t *testing.T) {
	for _, kind := range repoKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			location, env := kind.make(t)
			leader := filepath.Join(t.TempDir(), "leader")
			writeRandomTree(t, leader, 40<<20)
			srv := startServe(t, "dir:"+leader, "--rate-limit", "16MB", "--compression", "none")
			var stdout, stderr strings.Builder
			cmd := slowBackup(t, env, srv.URL, location, &stdout, &stderr)
			waitObjects(t, openBackend(t, location, env), "packs/", 1)
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			_ = cmd.Wait() // killed: its exit status says so
			snapsyncOK(t, env, "verify", location)
			rerun := runBackup(t, env, srv.URL, location)
			t.Logf("rerun after the kill: %+v", rerun)
			snapsyncOK(t, env, "verify", location)
			if ids := listRepo(t, env, location); len(ids) != 1 || ids[0] != rerun.SnapshotID {
				t.Fatalf("list after kill and rerun: %v", ids)
			}
			dest := filepath.Join(t.TempDir(), "restored")
			restore(t, env, location, dest)
			if diff := sameContent(treeFiles(t, leader), treeFiles(t, dest)); diff != "" {
				t.Fatalf("restored tree differs: %s", diff)
			}
		})
	}
}

// TestPruneBesideBackup runs prune while a slow backup holds the repository:
// prune fails with the lock error and deletes nothing; the backup commits
// and the repository verifies.
func TestPruneBesideBackup(t *testing.T) {
	for _, kind := range repoKinds {
		t.Run(kind.name, func(t *testing.T) {
			t.Parallel()
			location, env := kind.make(t)
			leader := filepath.Join(t.TempDir(), "leader")
			writeRandomTree(t, leader, 16<<20)
			runBackup(t, env, "dir:"+leader, location)
			writeRandomTree(t, leader, 16<<20) // a new file: the next backup has chunks to upload
			srv := startServe(t, "dir:"+leader, "--rate-limit", "8MB", "--compression", "none")
			b := openBackend(t, location, env)
			var stdout, stderr strings.Builder
			cmd := slowBackup(t, env, srv.URL, location, &stdout, &stderr)
			waitObjects(t, b, "locks/", 1) // the backup holds the repository
			p := runSnapsync(context.Background(), env, "prune", location, "--keep-last", "1")
			if p.Err == nil || !strings.Contains(p.Stderr, "locked") {
				t.Fatalf("prune beside a backup: %v\nstdout:\n%s\nstderr:\n%s", p.Err, p.Stdout, p.Stderr)
			}
			if err := cmd.Wait(); err != nil {
				t.Fatalf("backup beside a prune: %v\n%s", err, stderr.String())
			}
			snapsyncOK(t, env, "verify", location)
			if ids := listRepo(t, env, location); len(ids) != 2 {
				t.Fatalf("list: %v, want two snapshots", ids)
			}
			out := snapsyncOK(t, env, "prune", location, "--keep-last", "1")
			snapsyncOK(t, env, "verify", location)
			t.Logf("prune after the backup: %s", strings.TrimSpace(out.Stdout))
		})
	}
}

// writeRandomTree adds a file of n incompressible bytes to dir.
func writeRandomTree(tb testing.TB, dir string, n int) {
	tb.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	f, err := os.CreateTemp(dir, "data-*.sst")
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, n)
	rand.Read(buf) // never fails (crypto/rand)
	if _, err := f.Write(buf); err != nil {
		tb.Fatal(err)
	}
}

// largest returns the key of the largest of the objects keys.
func largest(tb testing.TB, b repo.Backend, keys []string) string {
	tb.Helper()
	var best string
	var size int64 = -1
	for _, k := range keys {
		n, _, err := b.Stat(context.Background(), k)
		if err != nil {
			tb.Fatal(err)
		}
		if n > size {
			best, size = k, n
		}
	}
	return best
}
