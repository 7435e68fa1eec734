//go:build linux

package swap

import (
	"errors"
	"io/fs"

	"golang.org/x/sys/unix"
)

// lstat describes path with one statx call, which also reports the birth
// time where the filesystem records one.
func lstat(path string) (Info, error) {
	var st unix.Statx_t
	err := unix.Statx(unix.AT_FDCWD, path, unix.AT_SYMLINK_NOFOLLOW, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &st)
	if errors.Is(err, unix.ENOSYS) {
		return lstatPortable(path) // kernels before 4.11
	}
	if err != nil {
		return Info{}, &fs.PathError{Op: "lstat", Path: path, Err: err}
	}
	id := FileID{Dev: unix.Mkdev(st.Dev_major, st.Dev_minor), Ino: st.Ino}
	if st.Mask&unix.STATX_BTIME != 0 {
		id.Birth = st.Btime.Sec*1e9 + int64(st.Btime.Nsec)
	}
	return Info{ID: id, Mode: fileMode(uint32(st.Mode)), Size: int64(st.Size)}, nil
}

// fileMode converts the st_mode bits of statx to an fs.FileMode.
func fileMode(m uint32) fs.FileMode {
	mode := fs.FileMode(m & 0o777)
	switch m & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		mode |= fs.ModeDir
	case unix.S_IFLNK:
		mode |= fs.ModeSymlink
	default:
		mode |= fs.ModeIrregular
	}
	return mode
}
