package swap

import (
	"context"
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
)

// tree is the content of a directory tree: slash path -> file content; a
// path ending in "/" is a directory.
type tree map[string]string

var (
	oldTree = tree{
		"CURRENT": "MANIFEST-000004\n", "MANIFEST-000004": "old manifest", "000007.sst": "old sst 7",
		"snap/": "", "snap/s1/": "", "snap/s1/000005.sst": "old snapshot sst",
	}
	newTree = tree{
		"CURRENT": "MANIFEST-000009\n", "MANIFEST-000009": "new manifest", "000007.sst": "old sst 7",
		"000012.sst": "new sst 12", "snap/": "", "snap/s2/": "", "snap/s2/000011.sst": "new snapshot sst",
	}
	thirdTree = tree{"CURRENT": "MANIFEST-000020\n", "MANIFEST-000020": "third manifest", "empty/": ""}
)

// layout is where a test replaces: base/db replaced by base/.snapsync-db/stage,
// with the journal in the staging area, as the client lays it out.
type layout struct{ base, dest, staging, staged, journal string }

func newLayout(tb testing.TB) layout {
	tb.Helper()
	base := tb.TempDir()
	l := layout{base: base, dest: filepath.Join(base, "db"), staging: filepath.Join(base, ".snapsync-db")}
	l.staged = filepath.Join(l.staging, "stage")
	l.journal = filepath.Join(l.staging, "swap.journal")
	if err := os.Mkdir(l.staging, 0o755); err != nil {
		tb.Fatal(err)
	}
	return l
}

// writeTree writes t at dir, fsyncing files and directories.
func writeTree(tb testing.TB, dir string, t tree) {
	tb.Helper()
	if err := os.Mkdir(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, p := range slices.Sorted(maps.Keys(t)) {
		full := filepath.Join(dir, filepath.FromSlash(p))
		var err error
		if strings.HasSuffix(p, "/") {
			err = os.MkdirAll(full, 0o755)
		} else {
			err = durable.OS().WriteFile(full, []byte(t[p]), 0o600)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
	if err := SyncTree(context.Background(), dir); err != nil {
		tb.Fatal(err)
	}
}

// readTree returns the tree at dir, or nil when dir does not exist.
func readTree(tb testing.TB, dir string) tree {
	tb.Helper()
	if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	t := tree{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p) // p is below dir
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			t[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		t[rel] = string(b)
		return err
	})
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// treeName names which known tree t is: "old", "new", "third", "missing" or "MIX".
func treeName(t tree) string {
	switch {
	case t == nil:
		return "missing"
	case maps.Equal(t, oldTree):
		return "old"
	case maps.Equal(t, newTree):
		return "new"
	case maps.Equal(t, thirdTree):
		return "third"
	}
	return "MIX"
}

// errCrash is what a simulated crash returns from every operation it stops.
var errCrash = errors.New("simulated crash")

// crashFS fails the k-th operation of fsys and every one after it, as a
// process that died there would never run them (k <= 0: never). It counts
// operations in *n.
func crashFS(fsys durable.StageFS, k int, n *int) durable.StageFS {
	return durable.WithHook(fsys, func(string) error {
		*n++
		if k > 0 && *n >= k {
			return errCrash
		}
		return nil
	})
}
