//go:build linux || darwin

package durable

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Space returns the bytes available to an unprivileged process, and the
// size, of the filesystem holding path (statfs). It is snapsync's one statfs:
// the install's free-space check and the metrics' free-bytes gauge call it.
func Space(path string) (free, size int64, err error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return 0, 0, fmt.Errorf("statfs %s: %w", path, err)
	}
	// Bsize is int64 on linux, uint32 on darwin; the block counts fit.
	bs := int64(st.Bsize)                                    //nolint:unconvert
	return int64(st.Bavail) * bs, int64(st.Blocks) * bs, nil //nolint:gosec
}
