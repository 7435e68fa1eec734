package e2e

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// crashRuns are the fault points of an install in the order an install
// reaches them (client/doc.go and swap/doc.go document them): each case kills
// one install process per point, in order, so a case of two points also
// kills the run that recovers from the first kill. "#N" is the Nth time the
// point is reached.
var crashRuns = [][]string{
	{"manifest-fetched"},
	{"chunk-written#1"},
	{"chunk-written#2"},
	{"file-synced#1"},
	{"file-synced#3"},
	{"staged"},
	{"before-swap"},
	{"after-swap"},
	{"before-cleanup"},
	{"after-cleanup"},
	{"old-removed"},
	{"done"},
	{"before-swap", "before-recover"},
	{"after-swap", "before-recover"},
	{"after-swap", "before-recover-cleanup"},
	{"before-cleanup", "before-recover-cleanup"},
	{"after-cleanup", "old-removed"},
	{"chunk-written#2", "chunk-written#1", "staged"},
}

// TestCrashAtEveryStep kills real install processes (SIGKILL) at every fault
// point of stage -> fsync -> swap -> cleanup, and in the recovery that
// follows. After each kill the destination must hold exactly the old DB or
// exactly the new one, and a rerun must complete the install. The leader is
// served as dir: (a closed Pebble DB), so every install gets the same bytes.
func TestCrashAtEveryStep(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	leader := filepath.Join(root, "leader")
	writePebble(t, leader, sampledb.Fill{Seed: 5, Bytes: 12 << 20})
	oldFiles := treeFiles(t, leader)
	srv := startServe(t, "dir:"+leader)
	oldDB := filepath.Join(root, "old")
	install(t, srv.URL, oldDB)
	if diff := sameContent(oldFiles, treeFiles(t, oldDB)); diff != "" {
		t.Fatalf("old install: %s", diff)
	}
	srv.stop()

	writePebble(t, leader, sampledb.Fill{Seed: 6, Bytes: 4 << 20})
	newFiles := treeFiles(t, leader)
	want := pristine(t, leader)
	srv = startServe(t, "dir:"+leader)

	for _, points := range crashRuns {
		t.Run(strings.Join(points, "+"), func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "db")
			copyTree(t, oldDB, dest)
			for _, point := range points {
				r := runSnapsync(context.Background(), []string{"SNAPSYNC_CRASH_AT=" + point},
					"install", "--from", srv.URL, "--dest", dest)
				if !r.Killed {
					t.Fatalf("install was not killed at %s (err %v); stderr:\n%s", point, r.Err, tail(r.Stderr, 2000))
				}
				got := treeFiles(t, dest)
				isOld, isNew := sameContent(oldFiles, got) == "", sameContent(newFiles, got) == ""
				if !isOld && !isNew {
					t.Fatalf("after a kill at %s the destination is neither the old nor the new DB: vs old %s; vs new %s",
						point, sameContent(oldFiles, got), sameContent(newFiles, got))
				}
				t.Logf("killed at %s: destination holds the %s DB", point, map[bool]string{true: "old", false: "new"}[isOld])
			}
			install(t, srv.URL, dest)
			if diff := sameContent(newFiles, treeFiles(t, dest)); diff != "" {
				t.Fatalf("rerun after %v: %s", points, diff)
			}
			comparePebble(t, want, dest)
			if _, err := os.Stat(filepath.Join(filepath.Dir(dest), ".snapsync-db")); !os.IsNotExist(err) {
				t.Fatalf("staging area left behind after rerun: %v", err)
			}
		})
	}
}
