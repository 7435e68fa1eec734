package swap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
)

// FS is the seam every file operation of a replace goes through, so a test can
// record the exact order (WithLogging) and inject a crash between any two
// operations (WithHook).
type FS interface {
	// Lstat describes path without following a final symlink; a missing path
	// is an error wrapping fs.ErrNotExist.
	Lstat(path string) (Info, error)
	// ReadFile returns the content of path.
	ReadFile(path string) ([]byte, error)
	// WriteFile creates or truncates path, writes data and fsyncs the file.
	WriteFile(path string, data []byte) error
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
}

// Info is what Lstat reports of a path.
type Info struct {
	ID   FileID
	Mode fs.FileMode // type bits and permissions, as fs.FileInfo.Mode
	Size int64
}

// FileID identifies a file or directory on one machine: its device, its inode
// and, where the filesystem records it (statx STATX_BTIME on ext4, xfs,
// btrfs), its birth time, which tells a reused inode number apart. Recover
// tells trees apart by FileID, never by name.
type FileID struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Birth int64  `json:"birth,omitempty"` // nanoseconds since the epoch; 0 when unknown
}

// IsZero reports whether id is the zero FileID, which names no file.
func (id FileID) IsZero() bool { return id == FileID{} }

// String formats id as "dev:ino" or "dev:ino@birth".
func (id FileID) String() string {
	s := strconv.FormatUint(id.Dev, 10) + ":" + strconv.FormatUint(id.Ino, 10)
	if id.Birth != 0 {
		s += "@" + strconv.FormatInt(id.Birth, 10)
	}
	return s
}

// OS returns the FS of the operating system.
func OS() FS { return osFS{} }

type osFS struct{}

var _ FS = osFS{}

func (osFS) Lstat(path string) (Info, error)          { return lstat(path) }
func (osFS) ReadFile(path string) ([]byte, error)     { return os.ReadFile(path) }
func (osFS) Rename(oldpath, newpath string) error     { return os.Rename(oldpath, newpath) }
func (osFS) Remove(path string) error                 { return os.Remove(path) }
func (osFS) RemoveAll(path string) error              { return os.RemoveAll(path) }
func (osFS) Exchange(a, b string) error               { return exchange(a, b) }
func (osFS) WriteFile(path string, data []byte) error { return writeFileSync(path, data) }
func (osFS) SyncDir(path string) error                { return syncDir(path) }

func writeFileSync(path string, data []byte) (err error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	return f.Sync()
}

func syncDir(path string) (err error) {
	d, err := os.Open(path)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := d.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", path, err)
	}
	return nil
}

// lstatInfo returns what is at path; ok is false, with no error, when
// nothing is there.
func lstatInfo(fsys FS, path string) (info Info, ok bool, err error) {
	info, err = fsys.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Info{}, false, nil
	}
	if err != nil {
		return Info{}, false, err
	}
	return info, true, nil
}

// Identify returns the FileID of the file or directory at path, not
// following a final symlink. A caller records the staged root's FileID before
// Replace; after a crash that left no journal, the tree whose FileID matches
// tells whether the swap happened (dest) or not (staged).
func Identify(path string) (FileID, error) {
	info, err := lstat(path)
	if err != nil {
		return FileID{}, err
	}
	return info.ID, nil
}
