package e2e

import (
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/internal/testwait"
)

// omTree is an Ozone Manager's metadata directory, laid out as Ozone lays
// it: om.db (a RocksDB whose transactionInfoTable holds #TRANSACTIONINFO =
// "TERM#INDEX"), db.snapshots (a snapshot DB under checkpointState sharing
// SSTs with om.db by hard link, with its YAML; the diffState compaction log
// and SST backup), and beside them the node's identity (om/current/VERSION)
// and its Ratis log, which no install may touch.
type omTree struct {
	meta        string
	term, index uint64
}

// makeOMTree writes an omTree at meta whose keys start with prefix.
func makeOMTree(tb testing.TB, meta, prefix string, term, index uint64) omTree {
	tb.Helper()
	db := filepath.Join(meta, "om.db")
	snap := filepath.Join(meta, "db.snapshots", "checkpointState", "om.db-"+prefix+"-5f1c0a7e")
	diff := filepath.Join(meta, "db.snapshots", "diffState")
	ldbLoad(tb, db, "/vol1/"+prefix+"/bucket1/key", 3000)
	runTool(tb, "ldb", "--db="+db, "create_column_family", "transactionInfoTable")
	runTool(tb, "ldb", "--db="+db, "--column_family=transactionInfoTable", "put", "#TRANSACTIONINFO",
		fmt.Sprintf("%d#%d", term, index-50))
	runTool(tb, "ldb", "--db="+db, "compact")
	checkpoint(tb, db, snap)
	ldbLoad(tb, db, "/vol1/"+prefix+"/bucket2/key", 1000)
	runTool(tb, "ldb", "--db="+db, "--column_family=transactionInfoTable", "put", "#TRANSACTIONINFO",
		fmt.Sprintf("%d#%d", term, index))
	// Flush what the loads left in the WAL into SSTs of their own, leaving
	// bucket1's SST (shared with the snapshot DB) alone.
	runTool(tb, "ldb", "--db="+db, "compact", "--from=/vol1/"+prefix+"/bucket2/", "--to=/vol1/"+prefix+"/bucket3/")
	runTool(tb, "ldb", "--db="+db, "--column_family=transactionInfoTable", "compact")

	writeFile(tb, snap+".yaml", "version: 0\nsnapshotId: "+prefix+"\nlastCompactionTime: 0\n")
	writeFile(tb, filepath.Join(diff, "compaction-log", "000042.log"), "# compaction log of "+prefix+"\n")
	ssts, err := filepath.Glob(filepath.Join(db, "*.sst"))
	if err != nil || len(ssts) == 0 {
		tb.Fatalf("no SST in %s (%v)", db, err)
	}
	backup := filepath.Join(diff, "compaction-sst-backup")
	if err := os.MkdirAll(backup, 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.Link(ssts[0], filepath.Join(backup, filepath.Base(ssts[0]))); err != nil {
		tb.Fatal(err)
	}
	writeFile(tb, filepath.Join(meta, "om", "current", "VERSION"), "nodeType=OM\nclusterID=CID-"+prefix+"\n")
	writeFile(tb, filepath.Join(meta, "ratis", "2c9f6a1e-4b5d-3e2f-9a8b-7c6d5e4f3a2b", "current", "log_inprogress_0"),
		strings.Repeat("ratis entry of "+prefix+"\n", 500))
	return omTree{meta: meta, term: term, index: index}
}

// ldbLoad adds n keys with prefix to db, creating it if needed.
func ldbLoad(tb testing.TB, db, prefix string, n int) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(db), 0o755); err != nil {
		tb.Fatal(err)
	}
	var in strings.Builder
	for i := range n {
		fmt.Fprintf(&in, "%s%06d ==> value-%d-%s\n", prefix, i, i, strings.Repeat("v", 120))
	}
	cmd := exec.Command("ldb", "--db="+db, "load", "--create_if_missing")
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("ldb load: %v\n%s", err, out)
	}
}

func writeFile(tb testing.TB, p, content string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		tb.Fatal(err)
	}
}

// ldbRead runs an ldb command on db as a secondary instance, so that the
// DB's own files stay as they are.
func ldbRead(tb testing.TB, db string, args ...string) string {
	tb.Helper()
	return runTool(tb, "ldb", append([]string{"--db=" + db, "--secondary_path=" + tb.TempDir()}, args...)...)
}

// transactionInfo reads an om.db's #TRANSACTIONINFO.
func transactionInfo(tb testing.TB, db string) string {
	tb.Helper()
	return strings.TrimSpace(ldbRead(tb, db, "--column_family=transactionInfoTable", "get", "#TRANSACTIONINFO"))
}

// dbState is what an install replaces: every file of om.db and db.snapshots
// with its inode.
type dbState struct{ omDB, snapshots map[string]fileInfo }

func (o omTree) dbState(tb testing.TB) dbState {
	tb.Helper()
	return dbState{treeFiles(tb, filepath.Join(o.meta, "om.db")), treeFiles(tb, filepath.Join(o.meta, "db.snapshots"))}
}

// nodeFiles is what an install must leave alone: VERSION and the Ratis log,
// with their inodes.
func (o omTree) nodeFiles(tb testing.TB) map[string]fileInfo {
	tb.Helper()
	files := treeFiles(tb, filepath.Join(o.meta, "om"))
	maps.Copy(files, treeFiles(tb, filepath.Join(o.meta, "ratis")))
	return files
}

// javaProgram runs a test program of java/src/test with its output in a
// buffer the test reads while it runs.
type javaProgram struct {
	cmd   *exec.Cmd
	out   *testlog.Buffer
	stdin io.WriteCloser
}

func (b *javaBuild) start(tb testing.TB, class string, args ...string) *javaProgram {
	tb.Helper()
	p := &javaProgram{out: &testlog.Buffer{}}
	all := append(slices.Clone(jvmFlags), "-cp", b.classpath, "dev.snapsync.clienttest."+class)
	p.cmd = exec.Command(b.tools["java"], append(all, args...)...)
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	var err error
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		tb.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	return p
}

// wait waits for the program's end, at most a minute.
func (p *javaProgram) wait(tb testing.TB) error {
	tb.Helper()
	done := make(chan error, 1)
	go func() { done <- p.cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(time.Minute):
		_ = p.cmd.Process.Kill() // stuck; the test fails below either way
		<-done
		tb.Fatalf("%s did not end:\n%s", strings.Join(p.cmd.Args[1:], " "), p.out.String())
		return nil
	}
}

// waitFor waits until the program printed line, at most 45 s.
func (p *javaProgram) waitFor(tb testing.TB, line string) {
	tb.Helper()
	testwait.Eventually(tb, 45*time.Second, func() (bool, string) {
		out := p.out.String()
		return strings.Contains(out, line), fmt.Sprintf("no %q from the Java program:\n%s", line, out)
	})
}

// wantLines fails unless out contains every line.
func wantLines(tb testing.TB, out string, lines ...string) {
	tb.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			tb.Fatalf("the Java output lacks %q:\n%s", l, out)
		}
	}
}

// TestJavaOzoneManager drives real sidecars from Java programs built on the
// client library, as two Ozone Managers would, with real RocksDB trees laid
// out as Ozone lays them. The leader program (SnapsyncCheckpoints.watch)
// answers its sidecar's checkpoint request by hard-linking its om.db and
// db.snapshots into a fresh directory under the registry root; the follower
// program (SnapsyncInstaller) runs the documented sequence with the OM's
// DB_TRANSIENT_MARKER against its own sidecar on loopback TCP with a token.
// Three runs: the installed TransactionInfo fails the follower's check and it
// rolls back; the follower is killed after Commit and, restarted, finds its
// marker and rolls back; the install is checked and finalized, then a Prepare
// that no checkpoint reaches fails with MIN_INDEX_NOT_REACHED and its
// metadata, read from the status details.
func TestJavaOzoneManager(t *testing.T) {
	t.Parallel()
	built := startJavaBuild(t)
	start := time.Now()
	root := t.TempDir()
	leader := makeOMTree(t, filepath.Join(root, "leader"), "leader", 3, 2000)
	follower := makeOMTree(t, filepath.Join(root, "follower"), "follower", 2, 900)
	// A checkpoint at index 0, for the Prepare no checkpoint reaches.
	stale := filepath.Join(root, "stale")
	ldbLoad(t, filepath.Join(stale, "om.db"), "/stale/key", 10)
	leaderData := ldbRead(t, filepath.Join(leader.meta, "om.db"), "scan")
	followerData := ldbRead(t, filepath.Join(follower.meta, "om.db"), "scan")
	source, originalDB, node := leader.dbState(t), follower.dbState(t), follower.nodeFiles(t)
	if len(linkGroups(source.snapshots)) == 0 {
		t.Fatal("db.snapshots holds no hard links; the test would prove nothing")
	}
	t.Logf("RocksDB trees made in %v", time.Since(start).Round(time.Millisecond))

	ckpts := filepath.Join(root, "registry")
	if err := os.Mkdir(ckpts, 0o755); err != nil {
		t.Fatal(err)
	}
	leaderSrv, leaderLocal, leaderToken := startTCPSidecar(t, "registry:"+ckpts)
	_, followerLocal, followerToken := startTCPSidecar(t, "registry:"+filepath.Join(root, "follower-registry"),
		"--allow-dest", follower.meta)
	staleSrv := startServe(t, "dir:"+stale)

	b := built()
	t.Logf("Java built in %v", b.took.Round(time.Millisecond))
	lp := b.start(t, "OmLeader", "--target", leaderLocal, "--token-file", leaderToken, "--meta", leader.meta,
		"--root", ckpts, "--term", "3", "--index", "2000")
	t.Cleanup(func() {
		_ = lp.stdin.Close() // its end of input stops it
		if err := lp.wait(t); err != nil {
			t.Errorf("leader program: %v\n%s", err, lp.out.String())
		}
	})
	runFollower := func(extra ...string) string {
		t.Helper()
		start := time.Now()
		p := b.start(t, "OmFollower", append([]string{"--target", followerLocal, "--token-file", followerToken,
			"--dest", follower.meta, "--source", leaderSrv.URL, "--min-index", "2000"}, extra...)...)
		_ = p.stdin.Close() // no pause: nothing to read
		if err := p.wait(t); err != nil {
			t.Fatalf("follower program: %v\n%s\nleader program:\n%s", err, p.out.String(), lp.out.String())
		}
		t.Logf("follower program ran in %v:\n%s", time.Since(start).Round(time.Millisecond), p.out.String())
		return p.out.String()
	}
	marker := filepath.Join(follower.meta, "dbInconsistentMarker") // OzoneConsts.DB_TRANSIENT_MARKER
	wantOld := func(when string) {
		t.Helper()
		if got := follower.dbState(t); !maps.Equal(got.omDB, originalDB.omDB) || !maps.Equal(got.snapshots, originalDB.snapshots) {
			t.Fatalf("%s: the follower's om.db and db.snapshots are not its old ones: %s; %s", when,
				sameContent(originalDB.omDB, got.omDB), sameContent(originalDB.snapshots, got.snapshots))
		}
		if !maps.Equal(follower.nodeFiles(t), node) {
			t.Fatalf("%s: VERSION or the Ratis log changed", when)
		}
		if _, err := os.Stat(marker); !os.IsNotExist(err) {
			t.Fatalf("%s: the marker is still there (%v)", when, err)
		}
		if got := transactionInfo(t, filepath.Join(follower.meta, "om.db")); got != "2#900" {
			t.Fatalf("%s: the follower's TransactionInfo is %q, want its own 2#900", when, got)
		}
		if ldbRead(t, filepath.Join(follower.meta, "om.db"), "scan") != followerData {
			t.Fatalf("%s: ldb scan of the follower's om.db differs from its old data", when)
		}
	}

	// 1. The check of the installed DB fails (the follower expects another
	// index): Rollback puts the old entries back.
	out := runFollower("--expect-index", "1999")
	wantLines(t, out, "progress state=INSTALL_STATE_PREPARING", "prepared snapshot=", "term=3 index=2000",
		"committed term=3 index=2000 rollback_available=true", "installed transaction_info=3#2000",
		"check failed", "rolled back index=2000", "done rollback_available=false")
	wantLines(t, lp.out.String(), "leader: request id=", "min_index=2000", "leader: registered request=")
	wantOld("after a rollback")

	// 2. The follower is killed between Commit and Finalize; restarted, it
	// finds its marker and rolls back.
	p := b.start(t, "OmFollower", "--target", followerLocal, "--token-file", followerToken, "--dest", follower.meta,
		"--source", leaderSrv.URL, "--min-index", "2000", "--pause-after-commit", "true")
	p.waitFor(t, "follower: paused")
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = p.wait(t) // killed
	t.Logf("killed follower program:\n%s", p.out.String())
	wantLines(t, p.out.String(), "committed term=3 index=2000 rollback_available=true")
	if _, err := os.Stat(marker); err != nil {
		t.Fatalf("killed between Commit and the marker's removal, the marker is gone: %v", err)
	}
	if got := transactionInfo(t, filepath.Join(follower.meta, "om.db")); got != "3#2000" {
		t.Fatalf("after the kill the follower's om.db holds %q, want the committed 3#2000", got)
	}
	out = runFollower()
	wantLines(t, out, "recovery: marker=true", "rollback_available=true committed_index=2000", "rolled back index=2000",
		"recovered")
	wantOld("after a restart's rollback")

	// 3. The check passes: Finalize. Then a Prepare that no checkpoint
	// reaches fails with its reason and metadata.
	out = runFollower("--unreachable-source", staleSrv.URL, "--unreachable-min-index", "5000")
	wantLines(t, out, "installed transaction_info=3#2000", "finalized=true", "done rollback_available=false",
		"error code=FAILED_PRECONDITION reason=MIN_INDEX_NOT_REACHED", "min_index=5000")
	got := follower.dbState(t)
	if d := sameContent(source.omDB, got.omDB) + sameContent(source.snapshots, got.snapshots); d != "" {
		t.Fatalf("the installed entries differ from the leader's: %s", d)
	}
	if g, w := linkGroups(got.snapshots), linkGroups(source.snapshots); !slices.Equal(g, w) {
		t.Fatalf("db.snapshots' hard-link groups: got %v, want %v", g, w)
	}
	if !maps.Equal(follower.nodeFiles(t), node) {
		t.Fatal("VERSION or the Ratis log changed")
	}
	db := filepath.Join(follower.meta, "om.db")
	if ti := transactionInfo(t, db); ti != "3#2000" {
		t.Fatalf("installed TransactionInfo %q, want 3#2000", ti)
	}
	if ldbRead(t, db, "scan") != leaderData {
		t.Fatal("ldb scan of the installed om.db differs from the leader's")
	}
	entries, err := os.ReadDir(follower.meta)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	t.Logf("the follower's metadata directory after Finalize: %v", names)
	for _, n := range names {
		if strings.Contains(n, "old") {
			t.Fatalf("Finalize left %s behind", n)
		}
	}
	t.Logf("TestJavaOzoneManager took %v", time.Since(start).Round(time.Millisecond))
}
