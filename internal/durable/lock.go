package durable

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// Lock creates path with perm if needed, not following a symlink, and takes
// an exclusive flock on it without waiting. Another holder: an error wrapping
// ErrLocked. The lock lasts until the returned Closer is closed or the process
// dies; the file itself stays.
func Lock(path string, perm fs.FileMode) (io.Closer, error) {
	f, err := OpenNoFollow(path, os.O_RDWR|os.O_CREATE, perm)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	return LockFile(f)
}

// LockFile takes an exclusive flock on the open file f without waiting, as
// Lock does, and closes f when it cannot.
func LockFile(f *os.File) (io.Closer, error) {
	path := f.Name()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		_ = f.Close() // the lock error is the one to report
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, path)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
