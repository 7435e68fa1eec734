//go:build linux || darwin

package client

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// fsSpace returns the bytes available to this process, and the size, of the
// filesystem holding path.
func fsSpace(path string) (free, size int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	bs := int64(st.Bsize) // int64 on linux, uint32 on darwin
	return int64(st.Bavail) * bs, int64(st.Blocks) * bs, nil
}
