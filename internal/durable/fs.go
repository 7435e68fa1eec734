package durable

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// errSymlink reports a symlink where a directory was to be listed.
var errSymlink = errors.New("is a symlink")

// FS is the seam every file operation of a replace goes through, so a test can
// record the exact order (WithLogging) and inject a crash between any two
// operations (WithHook). Paths are absolute or relative to the working
// directory; a later FS may resolve them below a directory handle instead.
type FS interface {
	// Lstat describes path without following a final symlink; a missing path
	// is an error wrapping fs.ErrNotExist.
	Lstat(path string) (Info, error)
	// ReadFile returns the content of path.
	ReadFile(path string) ([]byte, error)
	// WriteFile creates or truncates path with perm, not following a symlink
	// at it, writes data and fsyncs the file. It is not atomic: see WriteFile.
	WriteFile(path string, data []byte, perm fs.FileMode) error
	// Rename renames oldpath to newpath, replacing a file at newpath.
	Rename(oldpath, newpath string) error
	// Exchange atomically swaps the entries a and b, both of which must exist.
	// It returns an error wrapping ErrExchangeUnsupported where the platform or
	// filesystem cannot, having changed nothing.
	Exchange(a, b string) error
	// Remove removes a file or an empty directory.
	Remove(path string) error
	// RemoveAll removes path and everything below it; a missing path is no error.
	RemoveAll(path string) error
	// SyncDir opens the directory path and fsyncs it, making its entries durable.
	SyncDir(path string) error
	// ReadDir lists the directory path, sorted by name, not following a
	// symlink at path.
	ReadDir(path string) ([]fs.DirEntry, error)
	// ReadDirInfo lists the directory path, sorted by name, not following a
	// symlink at path, and describes each entry as Lstat would: in one pass
	// over the directory (each entry looked up by name in the open
	// directory where the FS has directory handles), for checking a tree of
	// a million files without a path lookup per file.
	ReadDirInfo(path string) ([]DirInfo, error)
}

// StageFS is an FS that also carries what filling a staging area needs: hard
// links, and the fsync of a file the caller wrote through its own handle.
type StageFS interface {
	FS
	// Link makes newpath a hard link of oldpath.
	Link(oldpath, newpath string) error
	// Sync fsyncs the open file f, named by f.Name() in logs.
	Sync(f *os.File) error
	// OpenFile opens path like os.OpenFile, never following a symlink at it.
	OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error)
	// Mkdir creates the directory path with perm (less the umask).
	Mkdir(path string, perm fs.FileMode) error
	// Chmod sets the permission bits of path, never following a symlink at it.
	Chmod(path string, mode fs.FileMode) error
}

// OS returns the FS of the operating system.
func OS() StageFS { return osFS{} }

type osFS struct{}

var _ StageFS = osFS{}

func (osFS) Lstat(path string) (Info, error)      { return lstat(path) }
func (osFS) ReadFile(path string) ([]byte, error) { return os.ReadFile(path) }
func (osFS) Rename(oldpath, newpath string) error { return os.Rename(oldpath, newpath) }
func (osFS) Remove(path string) error             { return os.Remove(path) }
func (osFS) RemoveAll(path string) error          { return os.RemoveAll(path) }
func (osFS) Exchange(a, b string) error           { return exchange(a, b) }
func (osFS) SyncDir(path string) error            { return SyncDir(path) }
func (osFS) Link(oldpath, newpath string) error   { return os.Link(oldpath, newpath) }
func (osFS) Sync(f *os.File) error                { return f.Sync() }

func (osFS) Mkdir(path string, perm fs.FileMode) error { return os.Mkdir(path, perm) }

func (osFS) ReadDir(path string) ([]fs.DirEntry, error) {
	if fi, err := os.Lstat(path); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
		return nil, &fs.PathError{Op: "readdir", Path: path, Err: errSymlink}
	}
	return os.ReadDir(path)
}

func (o osFS) ReadDirInfo(path string) ([]DirInfo, error) { return readDirInfoByName(o, path) }

func (osFS) OpenFile(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return OpenNoFollow(path, flag, perm)
}

func (osFS) Chmod(path string, mode fs.FileMode) error {
	f, err := OpenNoFollow(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Chmod(mode.Perm())
}

func (osFS) WriteFile(path string, data []byte, perm fs.FileMode) error {
	return writeFileSync(path, data, perm)
}
