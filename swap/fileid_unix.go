//go:build unix

package swap

import (
	"fmt"
	"io/fs"
	"syscall"
)

func fileID(fi fs.FileInfo) (FileID, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return FileID{}, fmt.Errorf("no stat_t for %s", fi.Name())
	}
	return FileID{Dev: uint64(st.Dev), Ino: uint64(st.Ino)}, nil //nolint:unconvert // int32 on some platforms
}
