package sidecar

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/client"
)

// testRoots makes a root holding a directory, a file and a symlink out of it,
// next to an outside directory.
func testRoots(tb testing.TB) (roots, string) {
	tb.Helper()
	base := tb.TempDir()
	root, outside := filepath.Join(base, "root"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(root, "dir"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			tb.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(root, "file"), nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(root, "out")); err != nil {
		tb.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "dir"), filepath.Join(base, "alias")); err != nil {
		tb.Fatal(err)
	}
	return roots{root}, base
}

func TestResolveDest(t *testing.T) {
	t.Parallel()
	rs, base := testRoots(t)
	root := rs[0]
	testCases := []struct {
		dest, want string
		err        error
		atRoot     bool // a set install, or Commit/Abort/Status
	}{
		{root + "/db", root + "/db", nil, false},
		{root + "/dir", root + "/dir", nil, false},
		{root + "/dir/db/", root + "/dir/db", nil, false},
		{base + "/alias/db", root + "/dir/db", nil, false}, // one directory, one name
		{root + "/./dir/../db", root + "/db", nil, false},
		{root, "", ErrNotAllowed, false},
		{root, root, nil, true}, // a set install replaces entries below the root
		{root + "/..", "", ErrNotAllowed, true},
		{base + "/outside", "", ErrNotAllowed, true},
		{root + "/..", "", ErrNotAllowed, false},
		{root + "/out/db", "", ErrNotAllowed, false},
		{base + "/outside/db", "", ErrNotAllowed, false},
		{root + "/out", "", ErrBadRequest, false}, // a symlink
		{root + "/file", "", ErrBadRequest, false},
		{root + "/missing/db", "", ErrBadRequest, false},
		{root + "/.snapsync-db", "", ErrBadRequest, false},
		{"db", "", ErrBadRequest, false},
		{"", "", ErrBadRequest, false},
		{"/", "", ErrBadRequest, false},
	}
	for _, tc := range testCases {
		got, err := rs.resolve(tc.dest, tc.atRoot)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("resolve(%q, %v) = %q, %v; want %q, %v", tc.dest, tc.atRoot, got, err, tc.want, tc.err)
		}
	}
}

// FuzzResolveDest: whatever the path, resolve either refuses it or returns
// an absolute, clean path strictly below the root that is not a symlink.
// TestNestedRootsNotSwapped: with nested roots, the inner root is still a
// root: a whole-directory install of it is refused, a set install allowed.
func TestNestedRootsNotSwapped(t *testing.T) {
	t.Parallel()
	outer := t.TempDir()
	inner := filepath.Join(outer, "om")
	if err := os.Mkdir(inner, 0o755); err != nil {
		t.Fatal(err)
	}
	rs := roots{outer, inner}
	if _, err := rs.resolve(inner, false); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("whole-directory dest = the inner root: %v, want ErrNotAllowed", err)
	}
	if got, err := rs.resolve(inner, true); err != nil || got != inner {
		t.Fatalf("set install into the inner root: %q, %v", got, err)
	}
	if _, err := rs.resolveCommit(inner); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("Commit of the inner root with no set install staged: %v, want ErrNotAllowed", err)
	}
	// After a Commit with keep_old only the set's rollback area is left:
	// Rollback and Finalize resolve the root through it.
	if err := os.Mkdir(filepath.Join(inner, client.SetStagingName+client.RollbackSuffix), 0o700); err != nil {
		t.Fatal(err)
	}
	if got, err := rs.resolveCommit(inner); err != nil || got != inner {
		t.Fatalf("Rollback of the inner root holding a set's rollback area: %q, %v", got, err)
	}
}

// TestWithin: installs reach a dest's staging area from the deepest root it
// lies below, and a root's from that root's parent.
func TestWithin(t *testing.T) {
	t.Parallel()
	rs := roots{"/data", "/data/om", "/srv"}
	testCases := []struct{ dest, want string }{
		{"/data/db", "/data"},
		{"/data/om/db", "/data/om"},
		{"/data/om/a/b/db", "/data/om"},
		{"/data/omx/db", "/data"},
		{"/data/om", "/data"},
		{"/srv", "/"},
		{"/srv/db", "/srv"},
	}
	for _, tc := range testCases {
		if got := rs.within(tc.dest); got != tc.want {
			t.Errorf("within(%q) = %q, want %q", tc.dest, got, tc.want)
		}
	}
}

func FuzzResolveDest(f *testing.F) {
	rs, base := testRoots(f)
	root := rs[0]
	for _, s := range []string{"db", "dir/db", "../outside/db", "out/db", "dir/../../x", ".snapsync-x", "", "out"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, rel string) {
		for _, dest := range []string{filepath.Join(root, rel), root + "/" + rel, base + "/" + rel, rel} {
			got, err := rs.resolve(dest, false)
			if err != nil {
				if !errors.Is(err, ErrBadRequest) && !errors.Is(err, ErrNotAllowed) {
					t.Fatalf("resolve(%q): unclassified error %v", dest, err)
				}
				continue
			}
			if !filepath.IsAbs(got) || filepath.Clean(got) != got || !strings.HasPrefix(got, root+"/") {
				t.Fatalf("resolve(%q) = %q: not clean and below %s", dest, got, root)
			}
			real, err := filepath.EvalSymlinks(filepath.Dir(got))
			if err != nil || (real != root && !strings.HasPrefix(real, root+"/")) {
				t.Fatalf("resolve(%q) = %q whose parent is really %q (%v)", dest, got, real, err)
			}
			if fi, err := os.Lstat(got); err == nil && !fi.IsDir() {
				t.Fatalf("resolve(%q) = %q, which is not a directory", dest, got)
			}
		}
	})
}
