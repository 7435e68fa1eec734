package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// TestCheckTree stages a small tree as the manifest lists it, spoils it one
// way per case, and checks what checkTree does: extras (a file, a directory
// with content, a symlink) are removed and the tree passes; a missing entry,
// a wrong type, size or mode, or a member that is not a link of its leader
// is ErrStaging.
func TestCheckTree(t *testing.T) {
	m := &verify.Manifest{
		Dirs: []verify.Dir{{Path: "a", Mode: 0o755}, {Path: "a/b", Mode: 0o755}, {Path: "a.d", Mode: 0o755}},
		Files: []verify.File{
			{Path: "a/b/x", Size: 3, Mode: 0o644, LinkTo: -1},
			{Path: "a/y", Size: 0, Mode: 0o600, LinkTo: -1},
			{Path: "a.d/x", Size: 3, Mode: 0o644, LinkTo: 0},
			{Path: "z", Size: 0, Mode: 0o644, LinkTo: -1},
		},
	}
	cases := []struct {
		name  string
		spoil func(t *testing.T, root string)
		ok    bool
	}{
		{"as listed", func(*testing.T, string) {}, true},
		{"extras", func(t *testing.T, root string) {
			write(t, filepath.Join(root, "a/b/extra"), "x", 0o644)
			mkdirAll(t, filepath.Join(root, "a/extradir/deep"))
			write(t, filepath.Join(root, "a/extradir/deep/f"), "x", 0o644)
			if err := os.Symlink("/", filepath.Join(root, "a.d/link")); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(root, "0first"), "", 0o644)
		}, true},
		{"missing file", func(t *testing.T, root string) { remove(t, filepath.Join(root, "a/y")) }, false},
		{"missing member", func(t *testing.T, root string) { remove(t, filepath.Join(root, "a.d/x")) }, false},
		{"wrong size", func(t *testing.T, root string) { write(t, filepath.Join(root, "z"), "x", 0o644) }, false},
		{"wrong mode", func(t *testing.T, root string) { chmod(t, filepath.Join(root, "a/y"), 0o644) }, false},
		{"dir for a file", func(t *testing.T, root string) {
			remove(t, filepath.Join(root, "z"))
			mkdirAll(t, filepath.Join(root, "z"))
		}, false},
		{"file for a dir", func(t *testing.T, root string) {
			if err := os.RemoveAll(filepath.Join(root, "a/b")); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(root, "a/b"), "", 0o644)
		}, false},
		{"member not a link", func(t *testing.T, root string) {
			remove(t, filepath.Join(root, "a.d/x"))
			write(t, filepath.Join(root, "a.d/x"), "abc", 0o644)
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			root := filepath.Join(t.TempDir(), "stage")
			if err := makeDirs(durable.OS(), root, m); err != nil {
				t.Fatal(err)
			}
			write(t, filepath.Join(root, "a/b/x"), "abc", 0o644)
			write(t, filepath.Join(root, "a/y"), "", 0o600)
			write(t, filepath.Join(root, "z"), "", 0o644)
			if err := os.Link(filepath.Join(root, "a/b/x"), filepath.Join(root, "a.d/x")); err != nil {
				t.Fatal(err)
			}
			c.spoil(t, root)
			err := checkTree(context.Background(), durable.OS(), root, m, 0o022)
			if c.ok {
				if err != nil {
					t.Fatal(err)
				}
				if got, want := len(readTree(t, root)), len(m.Dirs)+len(m.Files)+1; got != want {
					t.Fatalf("%d entries left after the check, want %d: %v", got, want, readTree(t, root))
				}
				return
			}
			if !errors.Is(err, ErrStaging) {
				t.Fatalf("check: %v, want ErrStaging", err)
			}
		})
	}
}

func write(t *testing.T, p, data string, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(p, []byte(data), mode); err != nil {
		t.Fatal(err)
	}
	chmod(t, p, mode)
}

func chmod(t *testing.T, p string, mode os.FileMode) {
	t.Helper()
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func remove(t *testing.T, p string) {
	t.Helper()
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
}
