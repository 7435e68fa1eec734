package durable

import (
	"io/fs"
	"os"
	"syscall"
)

// OpenNoFollow opens path like os.OpenFile, refusing a symlink at its last
// element (O_NOFOLLOW: the error wraps ELOOP) and not leaking the descriptor
// to a child process. The parents are the caller's to trust.
func OpenNoFollow(path string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile(path, flag|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, perm)
}
