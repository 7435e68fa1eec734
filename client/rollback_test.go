package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/snapsync/snapsync/internal/testdb"
	"github.com/snapsync/snapsync/internal/testtree"
	"github.com/snapsync/snapsync/server"
)

// TestRollback installs with KeepOld over an old tree, then rolls back or
// finalizes, in a whole-dest and a set install: the kept tree is exactly
// the old one, another Commit waits for it, and what is left afterwards is
// the old tree (rollback) or the new one (finalize), with no area beside.
func TestRollback(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 2<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	testCases := []struct {
		name     string
		set      bool
		finalize bool
	}{
		{"whole rollback", false, false},
		{"whole finalize", false, true},
		{"set rollback", true, false},
		{"set finalize", true, true},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			parent := t.TempDir()
			dest := filepath.Join(parent, "db")
			cfg := testConfig(t, dest)
			if tc.set {
				// The snapshot's top-level entries, listed: a Pebble DB's files.
				p, err := Prepare(context.Background(), ts.url, 0, cfg)
				if err != nil {
					t.Fatal(err)
				}
				names := stagedNames(t, cfg)
				if err := Abort(context.Background(), cfg, false); err != nil {
					t.Fatal(err)
				}
				if p.SnapshotID.IsZero() || len(names) == 0 {
					t.Fatalf("prepared %s with entries %v", p.SnapshotID, names)
				}
				cfg.Replace = names
			}
			writeOldTree(t, dest, cfg.Replace)
			if tc.set {
				if err := os.WriteFile(filepath.Join(dest, "VERSION"), []byte("keep me"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			before := readTree(t, dest)
			cfg.KeepOld = true
			res, err := Install(context.Background(), ts.url, 0, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if !res.RollbackAvailable {
				t.Fatal("Install with KeepOld over an old tree: no rollback available")
			}
			testdb.CheckSameDB(t, leader.DB(), dest)
			k, ok, err := KeptFor(Config{Dest: dest})
			if err != nil || !ok || k.Snapshot.SnapshotID != res.SnapshotID {
				t.Fatalf("KeptFor: %+v %v %v, want the installed snapshot", k, ok, err)
			}
			// Another commit waits for Finalize or Rollback.
			if _, err := Install(context.Background(), ts.url, 0, cfg); !errors.Is(err, ErrRollbackPending) {
				t.Fatalf("second install with a rollback pending: %v, want ErrRollbackPending", err)
			}
			// Its Prepare staged the snapshot (Prepare goes on while a
			// rollback is pending); give that staging back.
			if _, err := Staged(stagingDir(cfg)); err != nil {
				t.Fatalf("the refused commit's staging: %v", err)
			}
			if err := Abort(context.Background(), cfg, false); err != nil {
				t.Fatal(err)
			}
			testdb.CheckSameDB(t, leader.DB(), dest)
			if tc.finalize {
				done, err := Finalize(context.Background(), Config{Dest: dest})
				if err != nil || !done {
					t.Fatalf("Finalize: %v %v", done, err)
				}
				testdb.CheckSameDB(t, leader.DB(), dest)
				if done, err := Finalize(context.Background(), Config{Dest: dest}); err != nil || done {
					t.Fatalf("second Finalize: %v %v, want false, nil", done, err)
				}
			} else {
				got, err := Rollback(context.Background(), Config{Dest: dest})
				if err != nil {
					t.Fatal(err)
				}
				if got.SnapshotID != res.SnapshotID {
					t.Fatalf("Rollback removed %s, want %s", got.SnapshotID, res.SnapshotID)
				}
				after := readTree(t, dest)
				if _, ok := before["LOCK"]; !ok && tc.set {
					delete(after, "LOCK") // checkSameDB opened the DB in dest: not a listed entry, so left alone
				}
				sameTree(t, before, after)
			}
			if _, err := Rollback(context.Background(), Config{Dest: dest}); !errors.Is(err, ErrNoRollback) {
				t.Fatalf("Rollback with nothing kept: %v, want ErrNoRollback", err)
			}
			left := slices.DeleteFunc(testtree.Names(t, parent), func(n string) bool { return n == ".snapsync-db.digests" })
			if !slices.Equal(left, []string{"db"}) {
				t.Fatalf("beside dest: %v, want only db", left)
			}
			if tc.set {
				for _, n := range testtree.Names(t, dest) {
					if n == SetStagingName || n == SetStagingName+RollbackSuffix {
						t.Fatalf("dest keeps %s", n)
					}
				}
			}
		})
	}
}

// TestRollbackNothingReplaced: an install with KeepOld into a new
// destination keeps nothing, so no rollback is offered.
func TestRollbackNothingReplaced(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 1<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	dest := filepath.Join(t.TempDir(), "db")
	cfg := testConfig(t, dest)
	cfg.KeepOld = true
	res, err := Install(context.Background(), ts.url, 0, cfg)
	if err != nil || res.RollbackAvailable {
		t.Fatalf("install into a new dest: rollback %v, %v; want none", res.RollbackAvailable, err)
	}
	if _, ok, err := KeptFor(Config{Dest: dest}); ok || err != nil {
		t.Fatalf("KeptFor: %v %v, want nothing", ok, err)
	}
	if _, err := Rollback(context.Background(), Config{Dest: dest}); !errors.Is(err, ErrNoRollback) {
		t.Fatalf("Rollback: %v, want ErrNoRollback", err)
	}
}

// TestRollbackRefusesChangedDest: a destination replaced since the commit
// is neither what was installed nor what was kept; Rollback changes
// nothing.
func TestRollbackRefusesChangedDest(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 1<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	parent := t.TempDir()
	dest := filepath.Join(parent, "db")
	writeOldTree(t, dest, nil)
	cfg := testConfig(t, dest)
	cfg.KeepOld = true
	if _, err := Install(context.Background(), ts.url, 0, cfg); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dest, dest+".moved"); err != nil {
		t.Fatal(err)
	}
	writeOldTree(t, dest, nil)
	before := readTree(t, dest)
	if _, err := Rollback(context.Background(), Config{Dest: dest}); !errors.Is(err, ErrStaging) {
		t.Fatalf("Rollback over a replaced dest: %v, want ErrStaging", err)
	}
	sameTree(t, before, readTree(t, dest))
	if _, ok, _ := KeptFor(Config{Dest: dest}); !ok {
		t.Fatal("the kept tree was dropped")
	}
}

// writeOldTree makes root a tree unlike any snapshot: with names, one
// directory of that name per name (a set install's old entries).
func writeOldTree(tb testing.TB, root string, names []string) {
	tb.Helper()
	dirs := []string{root}
	for _, n := range names {
		dirs = append(dirs, filepath.Join(root, n))
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o750); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, "old-marker"), []byte("old "+d), 0o600); err != nil {
			tb.Fatal(err)
		}
	}
}

// stagingDir returns cfg's staging area.
func stagingDir(cfg Config) string {
	cfg.EnsureDefaults()
	return cfg.StagingDir
}

// stagedNames returns the top-level entries of cfg's staged tree.
func stagedNames(tb testing.TB, cfg Config) []string {
	tb.Helper()
	cfg.EnsureDefaults()
	return testtree.Names(tb, filepath.Join(cfg.StagingDir, "stage"))
}

// TestRollbackAreaUntrusted: a rollback area another uid made (or a
// symlink in its place) is never believed, used or removed: Commit,
// Rollback and Finalize refuse with ErrStagingUntrusted and leave it.
func TestRollbackAreaUntrusted(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root to make a directory another uid owns")
	}
	leader := openLeader(t, 1<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	parent := t.TempDir()
	dest := filepath.Join(parent, "db")
	writeOldTree(t, dest, nil)
	area := filepath.Join(parent, ".snapsync-db"+RollbackSuffix)
	if err := os.MkdirAll(filepath.Join(area, "old"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(area, "rollback.json"), []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{area, filepath.Join(area, "old"), filepath.Join(area, "rollback.json")} {
		if err := os.Lchown(p, 65534, 65534); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig(t, dest)
	if _, err := Install(context.Background(), ts.url, 0, cfg); !errors.Is(err, ErrStagingUntrusted) {
		t.Fatalf("install beside a planted rollback area: %v, want ErrStagingUntrusted", err)
	}
	if _, err := Rollback(context.Background(), Config{Dest: dest}); !errors.Is(err, ErrStagingUntrusted) {
		t.Fatalf("rollback: %v, want ErrStagingUntrusted", err)
	}
	if _, err := Finalize(context.Background(), Config{Dest: dest}); !errors.Is(err, ErrStagingUntrusted) {
		t.Fatalf("finalize: %v, want ErrStagingUntrusted", err)
	}
	if _, err := os.Stat(filepath.Join(area, "rollback.json")); err != nil {
		t.Fatalf("the planted area was touched: %v", err)
	}
}

// TestRollbackSetNothingReplaced: a set install with KeepOld into a
// directory that holds none of the names (a new OM follower: only its
// VERSION) keeps nothing and leaves no area behind; the next install goes
// through.
func TestRollbackSetNothingReplaced(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 1<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	dest := filepath.Join(t.TempDir(), "meta")
	cfg := testConfig(t, dest)
	if _, err := Prepare(context.Background(), ts.url, 0, cfg); err != nil {
		t.Fatal(err)
	}
	names := stagedNames(t, cfg)
	if err := Abort(context.Background(), cfg, false); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dest, "VERSION"), []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Replace, cfg.KeepOld = names, true
	res, err := Install(context.Background(), ts.url, 0, cfg)
	if err != nil || res.RollbackAvailable {
		t.Fatalf("set install over none of its names: rollback %v, %v; want none", res.RollbackAvailable, err)
	}
	for _, n := range []string{SetStagingName, SetStagingName + RollbackSuffix} {
		if _, err := os.Lstat(filepath.Join(dest, n)); !os.IsNotExist(err) {
			t.Fatalf("%s left in dest: %v", n, err)
		}
	}
	if _, err := Install(context.Background(), ts.url, 0, cfg); err != nil {
		t.Fatalf("the next install: %v", err)
	}
}

// TestFinalizeAfterTheNodeRan: the node runs on the installed DB between
// Commit and Finalize, removing one installed entry and making one the
// snapshot lacked; Finalize still deletes the kept DB, and Rollback (in a
// second destination changed alike) still puts it back.
func TestFinalizeAfterTheNodeRan(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 2<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	base := testConfig(t, filepath.Join(t.TempDir(), "probe"))
	if _, err := Prepare(context.Background(), ts.url, 0, base); err != nil {
		t.Fatal(err)
	}
	names := append(stagedNames(t, base), "made-later")
	if err := Abort(context.Background(), base, false); err != nil {
		t.Fatal(err)
	}
	for _, finalize := range []bool{true, false} {
		dest := filepath.Join(t.TempDir(), "meta")
		writeOldTree(t, dest, names[:2])
		before := readTree(t, dest)
		cfg := testConfig(t, dest)
		cfg.Replace, cfg.KeepOld = names, true
		if res, err := Install(context.Background(), ts.url, 0, cfg); err != nil || !res.RollbackAvailable {
			t.Fatalf("install: %v %v", res.RollbackAvailable, err)
		}
		// The node: an installed entry removed, one the snapshot lacked made.
		if err := os.RemoveAll(filepath.Join(dest, names[2])); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dest, "made-later"), []byte("new"), 0o600); err != nil {
			t.Fatal(err)
		}
		if finalize {
			if done, err := Finalize(context.Background(), Config{Dest: dest}); err != nil || !done {
				t.Fatalf("Finalize after the node ran: %v %v", done, err)
			}
			continue
		}
		if _, err := Rollback(context.Background(), Config{Dest: dest}); err != nil {
			t.Fatalf("Rollback after the node ran: %v", err)
		}
		sameTree(t, before, readTree(t, dest))
	}
}
