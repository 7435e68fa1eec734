package durable

import (
	"io/fs"
	"os"
	"strconv"
)

// Info is what Lstat reports of a path.
type Info struct {
	ID   FileID
	Mode fs.FileMode // type bits and permissions, as fs.FileInfo.Mode
	Size int64
	Uid  uint32 // the owner
	// Nlink is the number of hard links; 1 where the platform does not say.
	Nlink uint64
	// Mtime is the modification time in nanoseconds since the epoch.
	Mtime int64
}

// Lstat describes the file at path, with its birth time where the
// filesystem records one, not following a final symlink.
func Lstat(path string) (Info, error) { return lstat(path) }

// FileID identifies a file or directory on one machine: its device, its inode
// and, where the filesystem records it (statx STATX_BTIME on ext4, xfs,
// btrfs), its birth time, which tells a reused inode number apart. Trees are
// told apart by FileID, never by name.
type FileID struct {
	Dev   uint64 `json:"dev"`
	Ino   uint64 `json:"ino"`
	Birth int64  `json:"birth,omitempty"` // nanoseconds since the epoch; 0 when unknown
}

// IsZero reports whether id is the zero FileID, which names no file.
func (id FileID) IsZero() bool { return id == FileID{} }

// Same reports whether id and other name the same file: same device and
// inode, and the same birth time where both know one. An identity recorded
// without a birth time (an older record, a filesystem without one) matches on
// device and inode alone; two known birth times that differ are an inode
// reused after a delete.
func (id FileID) Same(other FileID) bool {
	if id.Dev != other.Dev || id.Ino != other.Ino || id.IsZero() {
		return false
	}
	return id.Birth == 0 || other.Birth == 0 || id.Birth == other.Birth
}

// String formats id as "dev:ino" or "dev:ino@birth".
func (id FileID) String() string {
	s := strconv.FormatUint(id.Dev, 10) + ":" + strconv.FormatUint(id.Ino, 10)
	if id.Birth != 0 {
		s += "@" + strconv.FormatInt(id.Birth, 10)
	}
	return s
}

// Identify returns the FileID of the file or directory at path, with its
// birth time where the filesystem records one, not following a final
// symlink. A missing path is an error wrapping fs.ErrNotExist.
func Identify(path string) (FileID, error) {
	info, err := lstat(path)
	if err != nil {
		return FileID{}, err
	}
	return info.ID, nil
}

// IdentifyFile returns the FileID of the open file f, with its birth time
// where the filesystem records one.
func IdentifyFile(f *os.File) (FileID, error) {
	info, err := fstat(f)
	return info.ID, err
}

// Stat describes the open file f as Lstat describes a path: what was opened,
// whatever its name names now.
func Stat(f *os.File) (Info, error) { return fstat(f) }
