package durable

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestReadDirInfo lists a directory holding a file, a directory and a
// symlink through OS and through a Dir handle: both give the names sorted
// and each entry as Lstat describes it, the symlink not followed; a symlink
// at the listed path itself is refused.
func TestReadDirInfo(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "dir")
	mustMkdir(t, dir)
	if err := os.WriteFile(filepath.Join(dir, "b-file"), []byte("12345"), 0o640); err != nil {
		t.Fatal(err)
	}
	mustMkdir(t, filepath.Join(dir, "c-dir"))
	if err := os.Symlink(root, filepath.Join(dir, "a-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(dir, filepath.Join(root, "dirlink")); err != nil {
		t.Fatal(err)
	}
	d, err := OpenDir(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = d.Close() })
	for name, fsys := range map[string]StageFS{"os": OS(), "beneath": Beneath(d)} {
		t.Run(name, func(t *testing.T) {
			got, err := fsys.ReadDirInfo(dir)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, e := range got {
				names = append(names, e.Name)
				want, err := Lstat(filepath.Join(dir, e.Name))
				if err != nil {
					t.Fatal(err)
				}
				if e.Info != want {
					t.Errorf("%s: %+v, want %+v", e.Name, e.Info, want)
				}
			}
			if want := []string{"a-link", "b-file", "c-dir"}; !slices.Equal(names, want) {
				t.Errorf("names %q, want %q", names, want)
			}
			if _, err := fsys.ReadDirInfo(filepath.Join(root, "dirlink")); err == nil {
				t.Error("listed through a symlink")
			}
		})
	}
}

// TestDirSyncCoversCreates: the test's temporary directory is on one of the
// filesystems named, or not, as statfs says; /proc never is.
func TestDirSyncCoversCreates(t *testing.T) {
	if DirSyncCoversCreates("/proc") {
		t.Error("procfs taken for a journaling filesystem")
	}
	if DirSyncCoversCreates(filepath.Join(t.TempDir(), "missing")) {
		t.Error("a missing path taken for a journaling filesystem")
	}
	t.Logf("temp dir: %v", DirSyncCoversCreates(t.TempDir()))
}
