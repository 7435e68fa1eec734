package e2e

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testtree"
)

// rollbackCrashRun is one case of TestRollbackKilledAtEveryPoint: the
// command killed (each point in turn, a SIGKILL inside the hook), the
// command run afterwards to completion, and the set it must leave.
type rollbackCrashRun struct {
	killed string   // "install" (--keep-old), "rollback" or "finalize"
	points []string // successive kills of that command
	then   string   // "rollback" or "finalize"
	want   string   // "old" or "new"
}

// rollbackCrashRuns: the points of an install's keeping (kept-recorded:
// the record is durable, the old entries still where the swap left them;
// old-kept: they are in the rollback area), of a rollback (package swap's
// set swap of the kept entries back, then installed-removed), of a
// recovery inside a rollback, and of a finalize (kept-unrecorded: the
// record is gone, the kept entries not yet).
var rollbackCrashRuns = []rollbackCrashRun{
	{"install", []string{"kept-recorded"}, "rollback", "old"},
	{"install", []string{"kept-recorded"}, "finalize", "new"},
	{"install", []string{"old-kept"}, "rollback", "old"},
	{"install", []string{"old-kept"}, "finalize", "new"},
	{"rollback", []string{"before-swap"}, "rollback", "old"},
	{"rollback", []string{"entry-moved#1"}, "rollback", "old"},
	{"rollback", []string{"entry-moved#2"}, "rollback", "old"},
	{"rollback", []string{"after-swap"}, "rollback", "old"},
	{"rollback", []string{"before-cleanup"}, "rollback", "old"},
	{"rollback", []string{"after-cleanup"}, "rollback", "old"},
	{"rollback", []string{"installed-removed"}, "rollback", "old"},
	{"rollback", []string{"entry-moved#1", "before-recover"}, "rollback", "old"},
	{"rollback", []string{"entry-moved#1", "before-recover-cleanup"}, "rollback", "old"},
	{"rollback", []string{"entry-moved#1"}, "finalize", "new"}, // the half-done swap is undone: Finalize keeps the installed set
	{"finalize", []string{"kept-unrecorded"}, "finalize", "new"},
	{"finalize", []string{"kept-unrecorded"}, "rollback", "new"}, // nothing left to roll back (NO_ROLLBACK)
}

// TestRollbackKilledAtEveryPoint SIGKILLs real snapsync processes at every
// fault point of keeping the replaced set (`install --keep-old --replace
// om.db,db.snapshots` into an OM metadata directory of real RocksDB
// checkpoints), of `snapsync rollback` and of `snapsync finalize`. After
// each kill every listed entry is exactly its old or its new version (a mix
// only with a journal to recover it), VERSION and the Ratis log keep their
// inodes and bytes; the next rollback (or finalize) then leaves exactly
// the old set (or the new one, link groups included, which ldb reads as
// the leader's), and nothing of snapsync's in the metadata directory.
func TestRollbackKilledAtEveryPoint(t *testing.T) {
	t.Parallel()
	needRocksDB(t)
	sets := buildOMSets(t)
	srv := startServe(t, "dir:"+sets.tree)
	replace := strings.Join(omSetNames, ",")
	for _, run := range rollbackCrashRuns {
		t.Run(run.killed+"@"+strings.Join(run.points, "+")+"/"+run.then, func(t *testing.T) {
			meta := copyLinked(t, sets.oldMeta, filepath.Join(t.TempDir(), "meta"))
			untouched := snapshotUntouched(t, meta)
			if run.killed != "install" {
				res := install(t, srv.URL, meta, "--replace", replace, "--keep-old")
				if !res.RollbackAvailable {
					t.Fatal("install --keep-old: no rollback available")
				}
			}
			for _, point := range run.points {
				args := []string{run.killed, "--dest", meta}
				if run.killed == "install" {
					args = []string{"install", "--from", srv.URL, "--dest", meta, "--replace", replace, "--keep-old"}
				}
				r := runSnapsync(context.Background(), []string{"SNAPSYNC_CRASH_AT=" + point}, args...)
				if !r.Killed {
					t.Fatalf("%s was not killed at %s, which proves nothing (err %v); stderr:\n%s", run.killed, point, r.Err, tail(r.Stderr, 2000))
				}
				var versions []string
				for _, n := range omSetNames {
					versions = append(versions, entryVersion(t, meta, n, sets.oldSet, sets.newSet))
				}
				if versions[0] != versions[1] && len(rollbackJournals(t, meta)) == 0 {
					t.Fatalf("killed at %s: a mix (%v) with no journal to recover it", point, versions)
				}
				untouched(t)
			}

			r := runSnapsync(context.Background(), nil, run.then, "--dest", meta)
			switch {
			case run.killed == "finalize" && run.then == "rollback":
				if r.Err == nil || !strings.Contains(r.Stderr, "nothing kept to roll back") {
					t.Fatalf("rollback after a finalize cut short: %v, want nothing kept\n%s", r.Err, tail(r.Stderr, 2000))
				}
			case r.Err != nil:
				t.Fatalf("%s after the kill: %v\n%s", run.then, r.Err, tail(r.Stderr, 2000))
			}
			got := setFiles(t, meta)
			want := map[string]map[string]fileInfo{"old": sets.oldSet, "new": sets.newSet}[run.want]
			if diff := sameContent(want, got); diff != "" {
				t.Fatalf("after %s the set is not the %s one: %s", run.then, run.want, diff)
			}
			if run.want == "new" && !slices.Equal(linkGroups(got), sets.newGroups) {
				t.Fatalf("new set's link groups differ:\nwant %v\ngot  %v", sets.newGroups, linkGroups(got))
			}
			untouched(t)
			if names := testtree.Names(t, meta); !slices.Equal(names, []string{"db.snapshots", "om", "om.db", "ratis"}) {
				t.Fatalf("metadata dir holds %v at the end", names)
			}
			if run.want == "new" {
				if s := scan(t, filepath.Join(meta, "om.db")); s != sets.wantScan {
					t.Fatalf("ldb scan of the installed om.db differs from the leader's")
				}
			}
			checkConsistency(t, filepath.Join(meta, "om.db"))
			if r := runSnapsync(context.Background(), nil, "rollback", "--dest", meta); r.Err == nil {
				t.Fatal("a second rollback went through")
			}
		})
	}
}

// rollbackJournals returns the swap journals in dir's set staging area and
// its rollback area.
func rollbackJournals(tb testing.TB, dir string) []string {
	tb.Helper()
	var out []string
	for _, area := range []string{client.SetStagingName, client.SetStagingName + client.RollbackSuffix} {
		m, err := filepath.Glob(filepath.Join(dir, area, "*journal*"))
		if err != nil {
			tb.Fatal(err)
		}
		out = append(out, m...)
	}
	return out
}

// wholeRollbackCrashRuns: as rollbackCrashRuns for a whole-dest install,
// whose rollback is package swap's Replace of the kept tree back.
var wholeRollbackCrashRuns = []rollbackCrashRun{
	{"install", []string{"kept-recorded"}, "rollback", "old"},
	{"install", []string{"old-kept"}, "finalize", "new"},
	{"rollback", []string{"before-swap"}, "rollback", "old"},
	{"rollback", []string{"after-swap"}, "rollback", "old"},
	{"rollback", []string{"before-cleanup"}, "rollback", "old"},
	{"rollback", []string{"after-cleanup"}, "rollback", "old"},
	{"rollback", []string{"installed-removed"}, "rollback", "old"},
	{"rollback", []string{"after-swap", "before-recover"}, "rollback", "old"},
	{"rollback", []string{"after-swap", "before-recover-cleanup"}, "rollback", "old"},
	{"rollback", []string{"before-swap"}, "finalize", "new"},
	{"finalize", []string{"kept-unrecorded"}, "finalize", "new"},
}

// TestRollbackWholeKilledAtEveryPoint is TestRollbackKilledAtEveryPoint for
// a whole-dest install of a Pebble DB: after each kill the destination is
// exactly the old DB or the new one; the next rollback (finalize) leaves
// exactly the old (new) one, which Pebble opens, and nothing else beside it
// but the digest cache.
func TestRollbackWholeKilledAtEveryPoint(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	leader := filepath.Join(root, "leader")
	writePebble(t, leader, sampledb.Fill{Seed: 15, Bytes: 6 << 20})
	oldFiles := treeFiles(t, leader)
	srv := startServe(t, "dir:"+leader)
	oldDB := filepath.Join(root, "old")
	install(t, srv.URL, oldDB)
	srv.stop()
	writePebble(t, leader, sampledb.Fill{Seed: 16, Bytes: 3 << 20})
	newFiles := treeFiles(t, leader)
	want := pristine(t, leader)
	srv = startServe(t, "dir:"+leader)

	for _, run := range wholeRollbackCrashRuns {
		t.Run(run.killed+"@"+strings.Join(run.points, "+")+"/"+run.then, func(t *testing.T) {
			dest := filepath.Join(t.TempDir(), "db")
			copyTree(t, oldDB, dest)
			if run.killed != "install" {
				if res := install(t, srv.URL, dest, "--keep-old"); !res.RollbackAvailable {
					t.Fatal("install --keep-old: no rollback available")
				}
			}
			for _, point := range run.points {
				args := []string{run.killed, "--dest", dest}
				if run.killed == "install" {
					args = []string{"install", "--from", srv.URL, "--dest", dest, "--keep-old"}
				}
				r := runSnapsync(context.Background(), []string{"SNAPSYNC_CRASH_AT=" + point}, args...)
				if !r.Killed {
					t.Fatalf("%s was not killed at %s (err %v); stderr:\n%s", run.killed, point, r.Err, tail(r.Stderr, 2000))
				}
				got := treeFiles(t, dest)
				if sameContent(oldFiles, got) != "" && sameContent(newFiles, got) != "" {
					t.Fatalf("after a kill at %s the destination is neither the old nor the new DB: vs old %s; vs new %s",
						point, sameContent(oldFiles, got), sameContent(newFiles, got))
				}
			}
			if r := runSnapsync(context.Background(), nil, run.then, "--dest", dest); r.Err != nil {
				t.Fatalf("%s after the kill: %v\n%s", run.then, r.Err, tail(r.Stderr, 2000))
			}
			wantFiles := map[string]map[string]fileInfo{"old": oldFiles, "new": newFiles}[run.want]
			if diff := sameContent(wantFiles, treeFiles(t, dest)); diff != "" {
				t.Fatalf("after %s the destination is not the %s DB: %s", run.then, run.want, diff)
			}
			if run.want == "new" {
				comparePebble(t, want, dest)
			}
			left := slices.DeleteFunc(testtree.Names(t, filepath.Dir(dest)), func(n string) bool { return n == ".snapsync-db.digests" })
			if !slices.Equal(left, []string{"db"}) {
				t.Fatalf("beside dest at the end: %v", left)
			}
		})
	}
}
