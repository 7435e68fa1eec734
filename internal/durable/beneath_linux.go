//go:build linux

package durable

import (
	"io/fs"
	"os"
	"path/filepath"
)

// Beneath returns a StageFS that resolves every path, absolute or relative to
// the working directory, below the handle d: the path must name d or lie
// below d's path (else an error wrapping ErrOutside), and what follows d's
// path is opened with Dir's rules (no symlink in any component, never out
// of d). Callers keep naming paths in full, and logs show them so; a
// component swapped for a symlink after d was opened makes the operation
// fail instead of acting where the symlink points.
func Beneath(d *Dir) StageFS { return dirFS{d: d} }

type dirFS struct{ d *Dir }

var _ StageFS = dirFS{}

func (b dirFS) rel(op, p string) (string, error) {
	abs, err := filepath.Abs(p)
	if err != nil {
		return "", &fs.PathError{Op: op, Path: p, Err: err}
	}
	r, err := filepath.Rel(b.d.path, abs)
	if err != nil || (r != "." && !filepath.IsLocal(r)) {
		return "", &fs.PathError{Op: op, Path: p, Err: ErrOutside}
	}
	return filepath.ToSlash(r), nil
}

func (b dirFS) Lstat(path string) (Info, error) {
	r, err := b.rel("lstat", path)
	if err != nil {
		return Info{}, err
	}
	return b.d.Lstat(r)
}

func (b dirFS) ReadFile(path string) ([]byte, error) {
	r, err := b.rel("read", path)
	if err != nil {
		return nil, err
	}
	return b.d.ReadFile(r)
}

func (b dirFS) WriteFile(path string, data []byte, perm fs.FileMode) error {
	r, err := b.rel("write", path)
	if err != nil {
		return err
	}
	return b.d.WriteFile(r, data, perm)
}

func (b dirFS) OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	r, err := b.rel("open", path)
	if err != nil {
		return nil, err
	}
	return b.d.OpenFile(r, flag, perm)
}

func (b dirFS) Mkdir(path string, perm fs.FileMode) error {
	r, err := b.rel("mkdir", path)
	if err != nil {
		return err
	}
	return b.d.Mkdir(r, perm)
}

func (b dirFS) Chmod(path string, mode fs.FileMode) error {
	r, err := b.rel("chmod", path)
	if err != nil {
		return err
	}
	return b.d.Chmod(r, mode)
}

func (b dirFS) ReadDir(path string) ([]fs.DirEntry, error) {
	r, err := b.rel("readdir", path)
	if err != nil {
		return nil, err
	}
	return b.d.ReadDir(r)
}

func (b dirFS) ReadDirInfo(path string) ([]DirInfo, error) {
	r, err := b.rel("readdir", path)
	if err != nil {
		return nil, err
	}
	return b.d.ReadDirInfo(r)
}

func (b dirFS) pair(op, p1, p2 string, do func(r1, r2 string) error) error {
	r1, err := b.rel(op, p1)
	if err != nil {
		return err
	}
	r2, err := b.rel(op, p2)
	if err != nil {
		return err
	}
	return do(r1, r2)
}

func (b dirFS) Rename(oldpath, newpath string) error {
	return b.pair("rename", oldpath, newpath, func(r1, r2 string) error { return b.d.Rename(r1, b.d, r2) })
}

func (b dirFS) Exchange(a, c string) error {
	return b.pair("exchange", a, c, func(r1, r2 string) error { return b.d.Exchange(r1, b.d, r2) })
}

func (b dirFS) Link(oldpath, newpath string) error {
	return b.pair("link", oldpath, newpath, func(r1, r2 string) error { return b.d.Link(r1, b.d, r2) })
}

func (b dirFS) Remove(path string) error {
	r, err := b.rel("remove", path)
	if err != nil {
		return err
	}
	return b.d.Remove(r)
}

func (b dirFS) RemoveAll(path string) error {
	r, err := b.rel("remove-all", path)
	if err != nil {
		return err
	}
	return b.d.RemoveAll(r)
}

func (b dirFS) SyncDir(path string) error {
	r, err := b.rel("sync-dir", path)
	if err != nil {
		return err
	}
	return b.d.SyncDir(r)
}

func (dirFS) Sync(f *os.File) error { return f.Sync() }
