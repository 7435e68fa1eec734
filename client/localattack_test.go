//go:build linux

package client

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/snapsync/snapsync/internal/testtree"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// nobody is the unprivileged uid and gid the attacker runs as.
const nobody = 65534

// attackScene is a root install beside an unprivileged user: Dest in a
// sticky world-writable directory (like /tmp), and a root-only directory
// holding a root-only file the attacker wants to overwrite or chmod.
type attackScene struct {
	shared, dest string
	area         string // the default staging area
	secretDir    string // 0700, root's
	secret       string // 0600, root's, in secretDir
	old          map[string]string
}

const secretData = "root only"

// newAttackScene skips unless the test runs as root, which it must to run
// the attacker as another uid.
func newAttackScene(t *testing.T) *attackScene {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("local-attack tests run the attacker as uid 65534 and the install as root: run the tests as root (CI does)")
	}
	base := t.TempDir()
	for _, d := range []string{filepath.Dir(base), base} { // the attacker must reach the shared directory
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	s := &attackScene{shared: filepath.Join(base, "tmp"), secretDir: filepath.Join(base, "rootonly")}
	for _, d := range []string{s.shared, s.secretDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(s.shared, 0o1777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	s.secret = filepath.Join(s.secretDir, "000003.sst") // a name the install writes
	if err := os.WriteFile(s.secret, []byte(secretData), 0o600); err != nil {
		t.Fatal(err)
	}
	s.dest = filepath.Join(s.shared, "db")
	s.area = filepath.Join(s.shared, ".snapsync-db")
	s.old = oldDest(t, s.dest)
	return s
}

// asNobody runs a shell script as uid and gid 65534.
func asNobody(t *testing.T, script string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-ec", script)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("attacker script: %v: %s", err, out)
	}
}

// checkIntact checks that root's secrets and the old database are as they
// were.
func (s *attackScene) checkIntact(t *testing.T) {
	t.Helper()
	if b, err := os.ReadFile(s.secret); err != nil || string(b) != secretData {
		t.Fatalf("root-only file now %q (%v)", b, err)
	}
	if fi, err := os.Lstat(s.secret); err != nil || fi.Mode() != 0o600 {
		t.Fatalf("root-only file mode now %v (%v)", fi.Mode(), err)
	}
	if fi, err := os.Lstat(s.secretDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("root-only dir mode now %v (%v)", fi.Mode(), err)
	}
	if names := testtree.Names(t, s.secretDir); len(names) != 1 {
		t.Fatalf("root-only dir now holds %q", names)
	}
	sameTree(t, s.old, readTree(t, s.dest))
}

// TestLocalAttackStagingArea pre-makes the staging area the ways an attacker
// (or a careless admin) would: each is refused, left as it was, and neither
// root's files nor the old database change.
func TestLocalAttackStagingArea(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{Source: goldenSource(t)}, "")
	testCases := []struct {
		name   string
		plant  func(t *testing.T, s *attackScene)
		check  func(t *testing.T, s *attackScene)
		reason string
	}{{
		name: "another uid's, with a journal tmp symlink to a root-only file",
		plant: func(t *testing.T, s *attackScene) {
			asNobody(t, "mkdir -m 0700 "+s.area+" && ln -s "+s.secret+" "+s.area+"/swap.journal.tmp && "+
				"ln -s "+s.secretDir+" "+s.area+"/stage && echo mine > "+s.area+"/state.json")
		},
		check: func(t *testing.T, s *attackScene) {
			if got, err := os.Readlink(filepath.Join(s.area, "swap.journal.tmp")); err != nil || got != s.secret {
				t.Fatalf("attacker's symlink now %q (%v)", got, err)
			}
			if b, err := os.ReadFile(filepath.Join(s.area, "state.json")); err != nil || string(b) != "mine\n" {
				t.Fatalf("attacker's file now %q (%v)", b, err)
			}
		},
		reason: "owned by uid 65534",
	}, {
		name: "another uid's, 0777",
		plant: func(t *testing.T, s *attackScene) {
			asNobody(t, "mkdir -m 0777 "+s.area)
		},
		reason: "owned by uid 65534",
	}, {
		name: "root's, world-writable",
		plant: func(t *testing.T, s *attackScene) {
			if err := os.Mkdir(s.area, 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(s.area, 0o777); err != nil {
				t.Fatal(err)
			}
		},
		reason: "group- or world-writable",
	}, {
		name: "a symlink to a root-only directory",
		plant: func(t *testing.T, s *attackScene) {
			asNobody(t, "ln -s "+s.secretDir+" "+s.area)
		},
		check: func(t *testing.T, s *attackScene) {
			if got, err := os.Readlink(s.area); err != nil || got != s.secretDir {
				t.Fatalf("attacker's symlink now %q (%v)", got, err)
			}
		},
		reason: "is a symlink",
	}}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newAttackScene(t)
			tc.plant(t, s)
			before, err := os.Lstat(s.area)
			if err != nil {
				t.Fatal(err)
			}
			_, err = Install(context.Background(), ts.url, 0, testConfig(t, s.dest))
			if !errors.Is(err, ErrStagingUntrusted) || !strings.Contains(err.Error(), s.area) || !strings.Contains(err.Error(), tc.reason) {
				t.Fatalf("install: %v, want %v naming %s and %q", err, ErrStagingUntrusted, s.area, tc.reason)
			}
			t.Logf("refused: %v", err)
			after, err := os.Lstat(s.area)
			if err != nil || after.Mode() != before.Mode() || !os.SameFile(before, after) {
				t.Fatalf("staging area changed: %v -> %v (%v)", before.Mode(), after.Mode(), err)
			}
			if tc.check != nil {
				tc.check(t, s)
			}
			s.checkIntact(t)
		})
	}
}

// TestLocalAttackPlantedSymlinks plants symlinks to root's files at the names
// an install writes inside its own staging area (a leftover of an earlier
// compromise: no other uid can write there), and swaps stage/ or a directory
// below it for a symlink to a root-only directory in the middle of an
// install: the install fails or writes only inside its own tree, root's
// files keep their content and mode, and the old database stays whole.
func TestLocalAttackPlantedSymlinks(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{Source: goldenSource(t)}, "")
	swapAt := func(s *attackScene, rel string) func(string) error {
		var once sync.Once
		return func(point string) error {
			if point != "chunk-written" {
				return nil
			}
			var err error
			once.Do(func() {
				p := filepath.Join(s.area, "stage", filepath.FromSlash(rel))
				if err = os.Rename(p, p+".moved"); err == nil {
					err = os.Symlink(s.secretDir, p)
				}
			})
			return err
		}
	}
	testCases := []struct {
		name     string
		plant    func(t *testing.T, s *attackScene)
		hook     func(s *attackScene) func(string) error
		mayWork  bool // the install may finish: the symlink was in its way only
		linkLeft string
	}{{
		name: "swap.journal.tmp",
		plant: func(t *testing.T, s *attackScene) {
			if err := os.Symlink(s.secret, filepath.Join(s.area, "swap.journal.tmp")); err != nil {
				t.Fatal(err)
			}
		},
	}, {
		name: "state.json.tmp",
		plant: func(t *testing.T, s *attackScene) {
			if err := os.Symlink(s.secret, filepath.Join(s.area, "state.json.tmp")); err != nil {
				t.Fatal(err)
			}
		},
	}, {
		name: "stage/ before the install",
		plant: func(t *testing.T, s *attackScene) {
			if err := os.Symlink(s.secretDir, filepath.Join(s.area, "stage")); err != nil {
				t.Fatal(err)
			}
		},
		mayWork: true, // an entry in the way of stage/ is removed, never followed
	}, {
		name: "a staged file",
		plant: func(t *testing.T, s *attackScene) {
			if err := os.MkdirAll(filepath.Join(s.area, "stage"), 0o700); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(s.secret, filepath.Join(s.area, "stage", "000003.sst")); err != nil {
				t.Fatal(err)
			}
		},
		mayWork: true,
	}, {
		name: "stage/ swapped mid-install",
		plant: func(t *testing.T, s *attackScene) {
			if err := os.Remove(s.area); err != nil { // let the install make it
				t.Fatal(err)
			}
		},
		hook: func(s *attackScene) func(string) error { return swapAt(s, "") },
	}, {
		name: "stage/db.snapshots swapped mid-install",
		plant: func(t *testing.T, s *attackScene) {
			if err := os.Remove(s.area); err != nil {
				t.Fatal(err)
			}
		},
		hook: func(s *attackScene) func(string) error { return swapAt(s, "db.snapshots") },
	}}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := newAttackScene(t)
			if err := os.Mkdir(s.area, 0o700); err != nil {
				t.Fatal(err)
			}
			tc.plant(t, s)
			cfg := testConfig(t, s.dest)
			cfg.Streams = 1
			if tc.hook != nil {
				cfg.Hook = tc.hook(s)
			}
			_, err := Install(context.Background(), ts.url, 0, cfg)
			t.Logf("install: %v", err)
			switch {
			case err == nil && !tc.mayWork:
				t.Fatal("install succeeded through a planted symlink")
			case err == nil:
				got := readTree(t, s.dest)
				if b, err := os.ReadFile(filepath.Join(s.dest, "000003.sst")); err != nil || string(b) != goldenTree["000003.sst"] {
					t.Fatalf("installed 000003.sst: %q (%v)", b, err)
				}
				s.old = got // the new database, whole
			}
			s.checkIntact(t)
		})
	}
}

// TestLocalAttackModes serves files and directories whose modes a leader
// should not impose (world-writable, setuid, none at all): they are
// installed masked.
func TestLocalAttackModes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "checkpoint")
	files := map[string]fs.FileMode{"open": 0o777, "setuid": 0o4755 | fs.ModeSetuid, "none": 0o000, "w/file": 0o666}
	if err := os.MkdirAll(filepath.Join(dir, "w"), 0o777); err != nil {
		t.Fatal(err)
	}
	for name, mode := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.WriteFile(p, []byte(name), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(dir, "w"), 0o777|fs.ModeSticky); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 { // the leader could not read a 0000 file
		if err := os.Chmod(filepath.Join(dir, "none"), 0o200); err != nil {
			t.Fatal(err)
		}
	}
	src, err := dirsource.New(dir, verify.Meta{Engine: "test", Term: 1, Index: 1, CreatedUnixNano: 1})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{Source: src}, "")
	testCases := []struct {
		mask fs.FileMode
		want map[string]fs.FileMode
	}{
		{0, map[string]fs.FileMode{"open": 0o755, "setuid": 0o755, "none": 0o400, "w/file": 0o644, "w": 0o755 | fs.ModeDir}},
		{0o077, map[string]fs.FileMode{"open": 0o700, "setuid": 0o700, "none": 0o400, "w/file": 0o600, "w": 0o700 | fs.ModeDir}},
		{0o002, map[string]fs.FileMode{"open": 0o775, "setuid": 0o755, "none": 0o400, "w/file": 0o664, "w": 0o775 | fs.ModeDir}},
	}
	for _, tc := range testCases {
		dest := filepath.Join(t.TempDir(), "db")
		cfg := testConfig(t, dest)
		cfg.FileModeMask = tc.mask
		if _, err := Install(context.Background(), ts.url, 0, cfg); err != nil {
			t.Fatal(err)
		}
		for name, want := range tc.want {
			if os.Geteuid() != 0 && name == "none" {
				want = 0o400 | (0o200 &^ tc.mask) // 0200 on the leader: owner read added
			}
			fi, err := os.Lstat(filepath.Join(dest, filepath.FromSlash(name)))
			if err != nil || fi.Mode() != want {
				t.Errorf("mask %o: %s has mode %v, want %v (%v)", uint32(tc.mask), name, fi.Mode(), want, err)
			}
		}
	}
}
