package e2e

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// writePebble adds data to the Pebble DB at dir (creating it) and closes it.
func writePebble(tb testing.TB, dir string, fills ...sampledb.Fill) {
	tb.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: sampledb.QuietLogger{}})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	for _, f := range fills {
		if _, err := sampledb.Write(context.Background(), db, f); err != nil {
			tb.Fatal(err)
		}
	}
}

// comparePebble opens both DBs and fails unless every key and value is equal.
func comparePebble(tb testing.TB, wantDir, gotDir string) int {
	tb.Helper()
	open := func(dir string) *pebble.DB {
		db, err := pebble.Open(dir, &pebble.Options{Logger: sampledb.QuietLogger{}})
		if err != nil {
			tb.Fatalf("open %s: %v", dir, err)
		}
		return db
	}
	want, got := open(wantDir), open(gotDir)
	defer want.Close()
	defer got.Close()
	n, err := sampledb.Compare(context.Background(), want, got)
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// pristine copies a closed Pebble DB so the test can compare against it while
// the server owns the original.
func pristine(tb testing.TB, dir string) string {
	tb.Helper()
	out := filepath.Join(tb.TempDir(), "pristine")
	copyTree(tb, dir, out)
	return out
}

// TestPebbleFullAndIncremental installs a Pebble DB of over 50 MiB on disk
// (96 MiB of 2:1-compressible values), served as pebble:,
// checks every key and value, then adds ~5% new data on the leader and
// checks that the second install moves at most 15% of the first's bytes.
func TestPebbleFullAndIncremental(t *testing.T) {
	t.Parallel()
	leader := filepath.Join(t.TempDir(), "leader")
	const fill = 96 << 20
	writePebble(t, leader, sampledb.Fill{Seed: 1, Bytes: fill})
	want := pristine(t, leader)
	dest := filepath.Join(t.TempDir(), "follower", "db")

	srv := startServe(t, "pebble:"+leader)
	full := install(t, srv.URL, dest)
	if full.BytesTotal < 50<<20 || full.BytesFetched == 0 || full.Files == 0 {
		t.Fatalf("full install: %+v", full)
	}
	if n := comparePebble(t, want, dest); n == 0 {
		t.Fatal("no keys compared")
	}
	t.Logf("full install: %+v", full)

	srv.stop()
	writePebble(t, leader, sampledb.Fill{Seed: 2, Bytes: fill / 20})
	want = pristine(t, leader)
	srv = startServe(t, "pebble:"+leader)
	inc := install(t, srv.URL, dest)
	comparePebble(t, want, dest)
	t.Logf("incremental install: %+v (%.1f%% of the full install's wire bytes)", inc,
		100*float64(inc.BytesFetched)/float64(full.BytesFetched))
	if inc.BytesFetched > full.BytesFetched*15/100 {
		t.Fatalf("incremental install fetched %d bytes, more than 15%% of %d", inc.BytesFetched, full.BytesFetched)
	}
	if inc.BytesReused == 0 {
		t.Fatal("incremental install reused nothing")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(dest), ".snapsync-db")); !os.IsNotExist(err) {
		t.Fatalf("staging area left behind: %v", err)
	}
}
