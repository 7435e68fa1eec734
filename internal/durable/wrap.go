package durable

import (
	"fmt"
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

// ReadDir is not recorded: it changes nothing.
func (w *wrapFS) ReadDir(path string) ([]fs.DirEntry, error) { return w.fs.ReadDir(path) }

// ReadDirInfo is not recorded: it changes nothing.
func (w *wrapFS) ReadDirInfo(path string) ([]DirInfo, error) { return w.fs.ReadDirInfo(path) }

// OpenFile is recorded as "create" when flag has O_CREATE (it may add an
// entry); other opens change no entry and are not recorded, so that the
// order of concurrent chunk writes does not enter the log.
func (w *wrapFS) OpenFile(path string, flag int, perm fs.FileMode) (f *os.File, err error) {
	if flag&os.O_CREATE == 0 {
		return w.fs.OpenFile(path, flag, perm)
	}
	err = w.around("create", []string{path}, func() error {
		f, err = w.fs.OpenFile(path, flag, perm)
		return err
	})
	return f, err
}

func (w *wrapFS) Mkdir(path string, perm fs.FileMode) error {
	return w.around("mkdir", []string{path}, func() error { return w.fs.Mkdir(path, perm) })
}

func (w *wrapFS) Chmod(path string, mode fs.FileMode) error {
	return w.around("chmod", []string{path, fmt.Sprintf("%04o", uint32(mode.Perm()))}, func() error { return w.fs.Chmod(path, mode) })
}
