//go:build unix

package connlimit

import "golang.org/x/sys/unix"

// openFileLimit is the soft RLIMIT_NOFILE, or 1024 when it cannot be read.
func openFileLimit() uint64 {
	var lim unix.Rlimit
	if err := unix.Getrlimit(unix.RLIMIT_NOFILE, &lim); err != nil {
		return 1024
	}
	return lim.Cur
}
