package durable

import (
	"io/fs"
	"os"
	"strings"
)

// wrapFS runs every operation of a StageFS through around, which receives
// the operation's name and paths ("rename", [a b]) and the operation.
type wrapFS struct {
	fs     StageFS
	around func(op string, args []string, do func() error) error
}

var _ StageFS = (*wrapFS)(nil)

func opLine(op string, args []string) string {
	return op + " " + strings.Join(args, " ")
}

func (w *wrapFS) Lstat(path string) (info Info, err error) {
	err = w.around("lstat", []string{path}, func() error {
		info, err = w.fs.Lstat(path)
		return err
	})
	return info, err
}

func (w *wrapFS) ReadFile(path string) (b []byte, err error) {
	err = w.around("read-file", []string{path}, func() error {
		b, err = w.fs.ReadFile(path)
		return err
	})
	return b, err
}

func (w *wrapFS) WriteFile(path string, data []byte, perm fs.FileMode) error {
	return w.around("write-file", []string{path}, func() error { return w.fs.WriteFile(path, data, perm) })
}

func (w *wrapFS) Rename(oldpath, newpath string) error {
	return w.around("rename", []string{oldpath, newpath}, func() error { return w.fs.Rename(oldpath, newpath) })
}

func (w *wrapFS) Exchange(a, b string) error {
	return w.around("exchange", []string{a, b}, func() error { return w.fs.Exchange(a, b) })
}

func (w *wrapFS) Remove(path string) error {
	return w.around("remove", []string{path}, func() error { return w.fs.Remove(path) })
}

func (w *wrapFS) RemoveAll(path string) error {
	return w.around("remove-all", []string{path}, func() error { return w.fs.RemoveAll(path) })
}

func (w *wrapFS) SyncDir(path string) error {
	return w.around("sync-dir", []string{path}, func() error { return w.fs.SyncDir(path) })
}

func (w *wrapFS) Link(oldpath, newpath string) error {
	return w.around("link", []string{oldpath, newpath}, func() error { return w.fs.Link(oldpath, newpath) })
}

func (w *wrapFS) Sync(f *os.File) error {
	return w.around("sync", []string{f.Name()}, func() error { return w.fs.Sync(f) })
}
