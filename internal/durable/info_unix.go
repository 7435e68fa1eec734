//go:build unix

package durable

import (
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// lstatPortable describes path with lstat(2): device and inode, no birth time.
func lstatPortable(path string) (Info, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return Info{}, err
	}
	return infoOfFileInfo(path, fi)
}

// fstatPortable describes f with fstat(2): device and inode, no birth time.
func fstatPortable(f *os.File) (Info, error) {
	fi, err := f.Stat()
	if err != nil {
		return Info{}, err
	}
	return infoOfFileInfo(f.Name(), fi)
}

func infoOfFileInfo(path string, fi fs.FileInfo) (Info, error) {
	id := InfoID(fi)
	if id.IsZero() {
		return Info{}, fmt.Errorf("stat %s: no stat_t", path)
	}
	info := Info{ID: id, Mode: fi.Mode(), Size: fi.Size(), Nlink: 1, Mtime: fi.ModTime().UnixNano()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		info.Uid, info.Nlink = st.Uid, uint64(st.Nlink) //nolint:unconvert // narrower types on some platforms
	}
	return info, nil
}

// InfoID returns the device and inode of fi, as os.Lstat or os.File.Stat
// report them; fs.FileInfo carries no birth time, so Birth is 0 and the
// FileID is only comparable with others made by InfoID (or with Same). It is
// zero where the platform has no inodes.
func InfoID(fi fs.FileInfo) FileID {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}
	}
	return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)} //nolint:unconvert // narrower types on some platforms
}
