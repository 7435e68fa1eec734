package e2e

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/testtree"
)

// omSetNames is what an OM replaces in its metadata directory.
var omSetNames = []string{"om.db", "db.snapshots"}

// setCrashRun is one case of TestSetInstallKilledAtEveryPoint: the crash
// points of successive install processes (each must be SIGKILLed), and what
// the listed entries must hold right after the last kill ("old" or "new"
// per entry, in omSetNames order) and after a recovery alone.
type setCrashRun struct {
	points    []string
	afterKill [2]string // om.db, db.snapshots
	recovered string    // the whole set after client.Recover
}

// setCrashRuns: om.db moves first (both entries exist on both sides, so
// the journal keeps the list's order), db.snapshots second. The kills
// inside a recovery (second point) follow a first kill that left a journal.
var setCrashRuns = []setCrashRun{
	{[]string{"before-swap"}, [2]string{"old", "old"}, "old"},
	{[]string{"entry-moved#1"}, [2]string{"new", "old"}, "old"},
	{[]string{"entry-moved#2"}, [2]string{"new", "new"}, "new"},
	{[]string{"after-swap"}, [2]string{"new", "new"}, "new"},
	{[]string{"before-cleanup"}, [2]string{"new", "new"}, "new"},
	{[]string{"after-cleanup"}, [2]string{"new", "new"}, "new"},
	{[]string{"old-removed"}, [2]string{"new", "new"}, "new"},
	{[]string{"before-swap", "before-recover"}, [2]string{"old", "old"}, "old"},
	{[]string{"entry-moved#1", "before-recover"}, [2]string{"new", "old"}, "old"},
	{[]string{"entry-moved#1", "before-recover-cleanup"}, [2]string{"old", "old"}, "old"},
	{[]string{"entry-moved#2", "before-recover"}, [2]string{"new", "new"}, "new"},
	{[]string{"entry-moved#2", "before-recover-cleanup"}, [2]string{"new", "new"}, "new"},
	{[]string{"before-cleanup", "before-recover-cleanup"}, [2]string{"new", "new"}, "new"},
}

// TestSetInstallKilledAtEveryPoint SIGKILLs real `snapsync install
// --replace om.db,db.snapshots` processes at every fault point of a set swap
// (and inside the recovery of one) on an OM metadata directory: om.db and
// snapshot DBs below db.snapshots/checkpointState made by RocksDB's
// `ldb checkpoint` (sharing SSTs through hard links), beside
// om/current/VERSION and a Ratis log. The leader serves a newer om.db and
// db.snapshots as dir:.
//
// After the last kill each listed entry must be exactly its old or its new
// version, as expected for that point (a mix only between two moves, which
// the journal records); om/ and ratis/ untouched. client.Recover alone (what
// the CLI's install runs first, and the sidecar's start-up Abort) must then
// leave the whole set old or new, as expected, with no journal. A rerun of
// `snapsync install` must leave exactly the new set, link groups included,
// om/ and ratis/ still the same inodes and bytes, no staging area, and DBs
// that `ldb checkconsistency` accepts and whose `ldb scan` is the leader's.
func TestSetInstallKilledAtEveryPoint(t *testing.T) {
	t.Parallel()
	needRocksDB(t)
	sets := buildOMSets(t)
	oldMeta, tree, oldSet, newSet, newGroups, wantScan := sets.oldMeta, sets.tree, sets.oldSet, sets.newSet, sets.newGroups, sets.wantScan
	srv := startServe(t, "dir:"+tree)

	for _, run := range setCrashRuns {
		t.Run(strings.Join(run.points, "+"), func(t *testing.T) {
			meta := copyLinked(t, oldMeta, filepath.Join(t.TempDir(), "meta"))
			untouched := snapshotUntouched(t, meta)
			for _, point := range run.points {
				r := runSnapsync(context.Background(), []string{"SNAPSYNC_CRASH_AT=" + point},
					"install", "--from", srv.URL, "--dest", meta, "--replace", strings.Join(omSetNames, ","))
				if !r.Killed {
					t.Fatalf("install was not killed at %s, which proves nothing (err %v); stderr:\n%s", point, r.Err, tail(r.Stderr, 2000))
				}
			}
			for i, n := range omSetNames {
				if got := entryVersion(t, meta, n, oldSet, newSet); got != run.afterKill[i] {
					t.Fatalf("after the kill at %v %s is %s, want %s", run.points, n, got, run.afterKill[i])
				}
			}
			if run.afterKill[0] != run.afterKill[1] && len(journals(t, meta)) == 0 {
				t.Fatalf("a mix of old and new entries with no journal to recover it")
			}
			untouched(t)

			// A recovery alone: the whole set becomes one version.
			if err := client.Recover(context.Background(), client.Config{Dest: meta}); err != nil {
				t.Fatalf("recover: %v", err)
			}
			got := setFiles(t, meta)
			switch want := map[string]map[string]fileInfo{"old": oldSet, "new": newSet}[run.recovered]; {
			case sameContent(want, got) != "":
				t.Fatalf("after the kill at %v and Recover the set is not the %s one: %s", run.points, run.recovered, sameContent(want, got))
			case run.recovered == "new" && !slices.Equal(linkGroups(got), newGroups):
				t.Fatalf("recovered new set's link groups differ:\nwant %v\ngot  %v", newGroups, linkGroups(got))
			}
			if j := journals(t, meta); len(j) > 0 {
				t.Fatalf("journal left after Recover: %v", j)
			}
			untouched(t)
			t.Logf("killed at %v: %s/%s, recovered to the %s set", run.points, run.afterKill[0], run.afterKill[1], run.recovered)

			install(t, srv.URL, meta, "--replace", strings.Join(omSetNames, ","))
			got = setFiles(t, meta)
			if diff := sameContent(newSet, got); diff != "" {
				t.Fatalf("rerun after %v: %s", run.points, diff)
			}
			if g := linkGroups(got); !slices.Equal(g, newGroups) {
				t.Fatalf("hard-link groups differ:\nwant %v\ngot  %v", newGroups, g)
			}
			untouched(t)
			if names := testtree.Names(t, meta); !slices.Equal(names, []string{"db.snapshots", "om", "om.db", "ratis"}) {
				t.Fatalf("metadata dir holds %v after the rerun", names)
			}
			checkConsistency(t, filepath.Join(meta, "om.db"))
			for p := range newSet {
				if dir, ok := strings.CutSuffix(p, "/CURRENT"); ok && strings.HasPrefix(dir, "db.snapshots/") {
					checkConsistency(t, filepath.Join(meta, filepath.FromSlash(dir)))
				}
			}
			if s := scan(t, filepath.Join(meta, "om.db")); s != wantScan {
				t.Fatalf("ldb scan of the installed om.db differs from the leader's (%d vs %d bytes)", len(s), len(wantScan))
			}
		})
	}
}

// omSets is an OM metadata directory before an install and the leader's
// newer om.db and db.snapshots: real RocksDB checkpoints made with ldb.
type omSets struct {
	oldMeta, tree  string
	oldSet, newSet map[string]fileInfo
	newGroups      []string
	wantScan       string // ldb scan of the leader's om.db
}

// buildOMSets makes the follower's metadata directory (om.db and one
// snapshot DB sharing SSTs, om/current/VERSION, a Ratis log) and the
// leader's tree (om.db and two snapshot DBs), in a temp dir.
func buildOMSets(t *testing.T) omSets {
	t.Helper()
	root := t.TempDir()

	// The follower's metadata directory before the install: its om.db and
	// one snapshot DB, taken from one live DB so that they share SSTs.
	oldLive, oldMeta := filepath.Join(root, "old-live"), filepath.Join(root, "old-meta")
	fillRocksDB(t, oldLive, 20000, 41)
	checkpoint(t, oldLive, filepath.Join(oldMeta, "db.snapshots", "checkpointState", "om.db-0b6f2f4e-1c1a-4c53-9d43-3d1c8b0d7a11"))
	loadRocksDB(t, oldLive, "/vol1/old/key", 3000)
	checkpoint(t, oldLive, filepath.Join(oldMeta, "om.db"))
	for p, data := range map[string]string{
		"om/current/VERSION": "#Wed Jan 01 00:00:00 UTC 2025\nnodeType=OM\nclusterID=CID-e2e\nscmUuid=scm-1\nomUuid=om-2\n",
		"ratis/5d6ac4c5-0a4f-4b06-8d0f-95ac2b3e5e7b/current/log_0-41":          strings.Repeat("raft entry 0..41 ", 300),
		"ratis/5d6ac4c5-0a4f-4b06-8d0f-95ac2b3e5e7b/current/log_inprogress_42": strings.Repeat("raft entry 42.. ", 50),
		"ratis/5d6ac4c5-0a4f-4b06-8d0f-95ac2b3e5e7b/current/raft-meta":         "term=3\nvotedFor=om-1\n",
	} {
		writeFileAll(t, filepath.Join(oldMeta, filepath.FromSlash(p)), data)
	}
	oldSet := setFiles(t, oldMeta)
	if len(linkGroups(oldSet)) == 0 {
		t.Fatal("the old set has no hard links; the test would prove less than it claims")
	}

	// The leader's newer om.db and two snapshot DBs, served as dir: (a tree
	// holding exactly the two entries).
	newLive, tree := filepath.Join(root, "new-live"), filepath.Join(root, "leader-tree")
	fillRocksDB(t, newLive, 20000, 42)
	checkpoint(t, newLive, filepath.Join(tree, "db.snapshots", "checkpointState", "om.db-7c1e9a52-55a2-4f0e-b8f5-2f7d3a9e6c01"))
	loadRocksDB(t, newLive, "/vol1/bucket1/key", 4000)
	checkpoint(t, newLive, filepath.Join(tree, "db.snapshots", "checkpointState", "om.db-a3d0c6b8-9e44-4d1f-a1a2-6b5f0e4c3d22"))
	loadRocksDB(t, newLive, "/vol1/bucket2/key", 2000)
	checkpoint(t, newLive, filepath.Join(tree, "om.db"))
	newSet := setFiles(t, tree)
	newGroups := linkGroups(newSet)
	if len(newGroups) == 0 {
		t.Fatal("the new set has no hard links; the test would prove less than it claims")
	}
	if sameContent(oldSet, newSet) == "" {
		t.Fatal("old and new sets are the same")
	}
	// ldb opens a DB read-write (it writes a LOG, an OPTIONS file): scan a
	// copy of the leader's om.db, never the tree being served.
	wantScan := scan(t, copyLinked(t, filepath.Join(tree, "om.db"), filepath.Join(root, "scan-copy")))
	if len(wantScan) < 1000 {
		t.Fatalf("ldb scan of the leader's om.db: %q", wantScan)
	}
	return omSets{oldMeta: oldMeta, tree: tree, oldSet: oldSet, newSet: newSet, newGroups: newGroups, wantScan: wantScan}
}

// TestSetInstallPairModeUnreached documents that the pair mode's mid-swap
// point cannot be reached on a filesystem with renameat2(RENAME_EXCHANGE)
// (ext4, xfs, btrfs, tmpfs): ReplaceSet uses the journaled pairs only when
// the first exchange is unsupported. An install told to die at mid-swap#1
// then completes. Where the exchange is unsupported it is killed, and the
// set must recover to the old one (one entry parked, its new one staged)
// and a rerun install the new set.
func TestSetInstallPairModeUnreached(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	tree := filepath.Join(root, "leader")
	writeFileAll(t, filepath.Join(tree, "om.db", "CURRENT"), "MANIFEST-000009\n")
	writeFileAll(t, filepath.Join(tree, "om.db", "000012.sst"), strings.Repeat("new sst ", 4000))
	writeFileAll(t, filepath.Join(tree, "db.snapshots", "checkpointState", "om.db-u1", "CURRENT"), "MANIFEST-000005\n")
	newSet := setFiles(t, tree)
	meta := filepath.Join(root, "meta")
	writeFileAll(t, filepath.Join(meta, "om", "current", "VERSION"), "nodeType=OM\n")
	writeFileAll(t, filepath.Join(meta, "om.db", "CURRENT"), "old\n")
	writeFileAll(t, filepath.Join(meta, "db.snapshots", "checkpointState", "om.db-u0", "CURRENT"), "x")
	oldSet := setFiles(t, meta)
	untouched := snapshotUntouched(t, meta)
	srv := startServe(t, "dir:"+tree)

	r := runSnapsync(context.Background(), []string{"SNAPSYNC_CRASH_AT=mid-swap#1"},
		"install", "--from", srv.URL, "--dest", meta, "--replace", "om.db,db.snapshots")
	switch {
	case r.Killed:
		t.Logf("renameat2(RENAME_EXCHANGE) unsupported here: killed at mid-swap#1")
		if err := client.Recover(context.Background(), client.Config{Dest: meta}); err != nil {
			t.Fatalf("recover: %v", err)
		}
		if diff := sameContent(oldSet, setFiles(t, meta)); diff != "" {
			t.Fatalf("after a kill at mid-swap#1 and Recover the set is not the old one: %s", diff)
		}
		install(t, srv.URL, meta, "--replace", "om.db,db.snapshots")
	case r.Err != nil:
		t.Fatalf("install: %v\n%s", r.Err, tail(r.Stderr, 2000))
	default:
		t.Logf("mid-swap#1 not reached: the set was exchanged entry by entry (RENAME_EXCHANGE supported)")
	}
	if diff := sameContent(newSet, setFiles(t, meta)); diff != "" {
		t.Fatalf("set after the install: %s", diff)
	}
	untouched(t)
}

// setFiles returns the regular files of the listed entries of dir, by path
// below dir.
func setFiles(tb testing.TB, dir string) map[string]fileInfo {
	tb.Helper()
	out := map[string]fileInfo{}
	for _, n := range omSetNames {
		if _, err := os.Lstat(filepath.Join(dir, n)); os.IsNotExist(err) {
			continue
		}
		for p, f := range treeFiles(tb, filepath.Join(dir, n)) {
			out[n+"/"+p] = f
		}
	}
	return out
}

// entryVersion tells whether entry n of dir holds exactly its old files or
// exactly its new ones.
func entryVersion(tb testing.TB, dir, n string, oldSet, newSet map[string]fileInfo) string {
	tb.Helper()
	sub := func(m map[string]fileInfo) map[string]fileInfo {
		out := map[string]fileInfo{}
		for p, f := range m {
			if strings.HasPrefix(p, n+"/") {
				out[p] = f
			}
		}
		return out
	}
	got := sub(setFiles(tb, dir))
	switch {
	case sameContent(sub(oldSet), got) == "":
		return "old"
	case sameContent(sub(newSet), got) == "":
		return "new"
	}
	tb.Fatalf("%s is neither old nor new: vs old %s; vs new %s", n, sameContent(sub(oldSet), got), sameContent(sub(newSet), got))
	return ""
}

// snapshotUntouched records every path below dir outside the listed
// entries and the staging area (om/, ratis/, and dir itself), with its inode
// and, for a file, its bytes; the returned check fails the test if any
// differs.
func snapshotUntouched(tb testing.TB, dir string) func(testing.TB) {
	tb.Helper()
	take := func(tb testing.TB) map[string]string {
		tb.Helper()
		out := map[string]string{}
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(dir, p)
			top := strings.SplitN(filepath.ToSlash(rel), "/", 2)[0]
			if slices.Contains(omSetNames, top) || top == client.SetStagingName || top == client.SetStagingName+client.RollbackSuffix {
				return filepath.SkipDir
			}
			fi, err := os.Lstat(p)
			if err != nil {
				return err
			}
			v := fmt.Sprintf("%v ino %d", fi.Mode(), fi.Sys().(*syscall.Stat_t).Ino)
			if fi.Mode().IsRegular() {
				v += " " + hashFile(tb, p)
			}
			out[filepath.ToSlash(rel)] = v
			return nil
		})
		if err != nil {
			tb.Fatal(err)
		}
		return out
	}
	before := take(tb)
	if len(before) < 3 {
		tb.Fatalf("nothing outside the set to watch: %v", before)
	}
	return func(tb testing.TB) {
		tb.Helper()
		after := take(tb)
		for p, v := range before {
			if after[p] != v {
				tb.Fatalf("%s changed: was %q, now %q", p, v, after[p])
			}
		}
		for p := range after {
			if _, ok := before[p]; !ok {
				tb.Fatalf("%s appeared outside the set", p)
			}
		}
	}
}

// journals returns the swap journals left in dir's staging area.
func journals(tb testing.TB, dir string) []string {
	tb.Helper()
	m, err := filepath.Glob(filepath.Join(dir, client.SetStagingName, "*journal*"))
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// copyLinked copies src to dst keeping hard links (cp -a), and returns dst.
func copyLinked(tb testing.TB, src, dst string) string {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		tb.Fatal(err)
	}
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		tb.Fatalf("cp -a %s %s: %v\n%s", src, dst, err, out)
	}
	return dst
}

func writeFileAll(tb testing.TB, p, data string) {
	tb.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
		tb.Fatal(err)
	}
}
