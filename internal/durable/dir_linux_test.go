//go:build linux

package durable

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// TestDirRefusesSymlinks plants a symlink at each component of a path below
// a Dir and checks that no operation acts where it points, with openat2 and
// with the component walk.
func TestDirRefusesSymlinks(t *testing.T) {
	for _, walk := range []bool{false, true} {
		name := "openat2"
		if walk {
			name = "walk"
		}
		t.Run(name, func(t *testing.T) {
			forceWalk.Store(walk)
			t.Cleanup(func() { forceWalk.Store(false) })
			root := t.TempDir()
			outside := t.TempDir()
			secret := filepath.Join(outside, "secret")
			if err := os.WriteFile(secret, []byte("root only"), 0o600); err != nil {
				t.Fatal(err)
			}
			base := filepath.Join(root, "base")
			mustMkdir(t, base)
			mustMkdir(t, filepath.Join(base, "real"))
			if err := os.Symlink(outside, filepath.Join(base, "dirlink")); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(secret, filepath.Join(base, "filelink")); err != nil {
				t.Fatal(err)
			}
			d, err := OpenDir(base)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = d.Close() })
			testCases := []struct {
				name string
				op   func() error
			}{
				{"open through a dir symlink", func() error { _, err := d.OpenFile("dirlink/secret", os.O_WRONLY|os.O_TRUNC, 0); return err }},
				{"create through a dir symlink", func() error { _, err := d.OpenFile("dirlink/new", os.O_WRONLY|os.O_CREATE, 0o600); return err }},
				{"open a file symlink", func() error { _, err := d.OpenFile("filelink", os.O_WRONLY|os.O_TRUNC, 0); return err }},
				{"write a file symlink", func() error { return d.WriteFile("filelink", []byte("x"), 0o600) }},
				{"chmod a file symlink", func() error { return d.Chmod("filelink", 0o777) }},
				{"chmod through a dir symlink", func() error { return d.Chmod("dirlink/secret", 0o777) }},
				{"mkdir through a dir symlink", func() error { return d.Mkdir("dirlink/sub", 0o700) }},
				{"rename through a dir symlink", func() error { return d.Rename("real", d, "dirlink/moved") }},
				{"link through a dir symlink", func() error { return d.Link("dirlink/secret", d, "real/stolen") }},
				{"remove through a dir symlink", func() error { return d.Remove("dirlink/secret") }},
				{"remove-all through a dir symlink", func() error { return d.RemoveAll("dirlink/secret") }},
				{"escape with ..", func() error { _, err := d.OpenFile("../base/real", os.O_RDONLY, 0); return err }},
				{"escape by absolute path", func() error { _, err := d.OpenFile(secret, os.O_RDONLY, 0); return err }},
			}
			for _, tc := range testCases {
				if err := tc.op(); err == nil {
					t.Errorf("%s: no error", tc.name)
				}
			}
			if b, err := os.ReadFile(secret); err != nil || string(b) != "root only" {
				t.Fatalf("secret: %q, %v", b, err)
			}
			if fi, err := os.Stat(secret); err != nil || fi.Mode().Perm() != 0o600 {
				t.Fatalf("secret mode: %v, %v", fi.Mode(), err)
			}
			if entries, _ := os.ReadDir(outside); len(entries) != 1 {
				t.Fatalf("outside holds %d entries", len(entries))
			}
			// RemoveAll of a symlink removes the link only.
			if err := d.RemoveAll("dirlink"); err != nil {
				t.Fatal(err)
			}
			if _, err := os.Stat(secret); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Lstat("dirlink"); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("lstat removed link: %v", err)
			}
		})
	}
}

// TestDirOperations runs each operation once where nothing is in the way.
func TestDirOperations(t *testing.T) {
	base := t.TempDir()
	d, err := OpenDir(base)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(d.Mkdir("a", 0o700))
	must(d.Mkdir("a/b", 0o700))
	must(d.WriteFile("a/b/f", []byte("hello"), 0o600))
	must(d.Chmod("a/b/f", 0o640))
	info, err := d.Lstat("a/b/f")
	must(err)
	if info.Mode.Perm() != 0o640 || info.Size != 5 || info.Uid != uint32(os.Geteuid()) || info.Nlink != 1 {
		t.Fatalf("info %+v", info)
	}
	must(d.Link("a/b/f", d, "a/g"))
	must(d.Rename("a/g", d, "h"))
	sub, err := d.OpenDir("a")
	must(err)
	defer sub.Close()
	b, err := sub.ReadFile("b/f")
	must(err)
	if string(b) != "hello" {
		t.Fatalf("read %q", b)
	}
	must(d.Mkdir("x", 0o700))
	if err := d.Exchange("a", d, "x"); err != nil && !errors.Is(err, ErrExchangeUnsupported) {
		t.Fatal(err)
	}
	entries, err := d.ReadDir(".")
	must(err)
	if len(entries) != 3 {
		t.Fatalf("%d entries", len(entries))
	}
	must(d.SyncDir("."))
	must(d.SyncDir("x"))
	must(d.RemoveAll("a"))
	must(d.RemoveAll("x"))
	must(d.Remove("h"))
	if err := d.Remove("h"); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("remove missing: %v", err)
	}
	if err := d.Mkdir(".", 0o700); !errors.Is(err, unix.EINVAL) {
		t.Fatalf("mkdir .: %v", err)
	}
}

func mustMkdir(tb testing.TB, p string) {
	tb.Helper()
	if err := os.Mkdir(p, 0o700); err != nil {
		tb.Fatal(err)
	}
}
