package e2e

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// needRocksDB skips nothing: `make test` installs rocksdb-tools, so a missing
// tool is a broken setup and fails loudly.
func needRocksDB(tb testing.TB) {
	tb.Helper()
	for _, tool := range []string{"ldb", "db_bench"} {
		if _, err := exec.LookPath(tool); err != nil {
			tb.Fatalf("%s not found: run `make deps` (Debian package rocksdb-tools)", tool)
		}
	}
}

func runTool(tb testing.TB, name string, args ...string) string {
	tb.Helper()
	cmd := exec.Command(name, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		tb.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, tail(out.String(), 2000), tail(errb.String(), 2000))
	}
	return out.String()
}

// fillRocksDB writes num random keys into a RocksDB at dir with db_bench.
func fillRocksDB(tb testing.TB, dir string, num int, seed int) {
	tb.Helper()
	runTool(tb, "db_bench", "--benchmarks=fillrandom", "--db="+dir, fmt.Sprintf("--num=%d", num),
		"--value_size=200", "--compression_type=snappy", fmt.Sprintf("--seed=%d", seed),
		"--threads=1", "--disable_auto_compactions=false", "--statistics=false")
}

// loadRocksDB adds num keys with a prefix through `ldb load`.
func loadRocksDB(tb testing.TB, dir, prefix string, num int) {
	tb.Helper()
	var in strings.Builder
	for i := 0; i < num; i++ {
		fmt.Fprintf(&in, "%s%08d ==> value-%s-%d-%s\n", prefix, i, prefix, i, strings.Repeat("v", 100))
	}
	cmd := exec.Command("ldb", "--db="+dir, "load")
	cmd.Stdin = strings.NewReader(in.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("ldb load: %v\n%s", err, out)
	}
}

func checkpoint(tb testing.TB, db, out string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		tb.Fatal(err)
	}
	runTool(tb, "ldb", "--db="+db, "checkpoint", "--checkpoint_dir="+out)
}

func checkConsistency(tb testing.TB, db string) {
	tb.Helper()
	if out := runTool(tb, "ldb", "--db="+db, "checkconsistency"); !strings.Contains(out, "OK") {
		tb.Fatalf("ldb checkconsistency %s: %s", db, out)
	}
}

func scan(tb testing.TB, db string) string {
	tb.Helper()
	return runTool(tb, "ldb", "--db="+db, "scan", "--hex")
}

// TestRocksDBCheckpoint serves a RocksDB checkpoint made by db_bench and
// ldb checkpoint as dir:, installs it, and checks it with ldb.
func TestRocksDBCheckpoint(t *testing.T) {
	t.Parallel()
	needRocksDB(t)
	root := t.TempDir()
	live, ckpt := filepath.Join(root, "live"), filepath.Join(root, "ckpt")
	fillRocksDB(t, live, 150000, 7)
	checkpoint(t, live, ckpt)
	source := treeFiles(t, ckpt)

	srv := startServe(t, "dir:"+ckpt)
	dest := filepath.Join(t.TempDir(), "db")
	res := install(t, srv.URL, dest)
	t.Logf("rocksdb install: %+v", res)
	if diff := sameContent(source, treeFiles(t, dest)); diff != "" {
		t.Fatalf("installed tree differs: %s", diff)
	}
	srv.stop()
	checkConsistency(t, dest)
	if a, b := scan(t, ckpt), scan(t, dest); a != b || len(a) < 1000 {
		t.Fatalf("ldb scan differs (%d vs %d bytes)", len(a), len(b))
	}
}

// TestOzoneManagerTree installs an OM-shaped checkpoint tree: om.db plus two
// snapshot DBs under db.snapshots/checkpointState, taken at different times
// so that they share SST files through hard links.
func TestOzoneManagerTree(t *testing.T) {
	t.Parallel()
	needRocksDB(t)
	root := t.TempDir()
	live, tree := filepath.Join(root, "om.db"), filepath.Join(root, "tree")
	snaps := []string{"om.db-snap1", "om.db-snap2"}
	fillRocksDB(t, live, 100000, 11)
	checkpoint(t, live, filepath.Join(tree, "db.snapshots", "checkpointState", snaps[0]))
	loadRocksDB(t, live, "/vol1/bucket1/key", 20000)
	checkpoint(t, live, filepath.Join(tree, "db.snapshots", "checkpointState", snaps[1]))
	loadRocksDB(t, live, "/vol1/bucket2/key", 5000)
	checkpoint(t, live, filepath.Join(tree, "om.db"))
	source := treeFiles(t, tree)
	groups := linkGroups(source)
	if len(groups) == 0 {
		t.Fatal("the source tree has no hard links; the test would prove nothing")
	}

	srv := startServe(t, "dir:"+tree)
	dest := filepath.Join(t.TempDir(), "om-metadata")
	res := install(t, srv.URL, dest)
	t.Logf("OM tree install: %+v, %d hard-link groups", res, len(groups))
	got := treeFiles(t, dest)
	if diff := sameContent(source, got); diff != "" {
		t.Fatalf("installed tree differs: %s", diff)
	}
	if g := linkGroups(got); strings.Join(g, ";") != strings.Join(groups, ";") {
		t.Fatalf("hard-link groups differ:\nwant %v\ngot  %v", groups, g)
	}
	du, want := diskUsage(t, dest), diskUsage(t, tree)
	t.Logf("disk usage: source %d, installed %d", want, du)
	if float64(du) > 1.1*float64(want) {
		t.Fatalf("installed tree takes %d bytes on disk, source %d", du, want)
	}
	srv.stop()
	checkConsistency(t, filepath.Join(dest, "om.db"))
	for _, s := range snaps {
		checkConsistency(t, filepath.Join(dest, "db.snapshots", "checkpointState", s))
	}
}
