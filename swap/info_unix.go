//go:build unix

package swap

import (
	"fmt"
	"os"
	"syscall"
)

// lstatPortable describes path with lstat(2): device and inode, no birth time.
func lstatPortable(path string) (Info, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return Info{}, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return Info{}, fmt.Errorf("lstat %s: no stat_t", path)
	}
	id := FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)} //nolint:unconvert // narrower types on some platforms
	return Info{ID: id, Mode: fi.Mode(), Size: fi.Size()}, nil
}
