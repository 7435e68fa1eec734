package durable

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// ErrNotBounded reports a file ReadBounded or OpenBounded refuses: not a
// regular file, or larger than the caller's bound.
var ErrNotBounded = errors.New("durable: not a regular file within its size bound")

// OpenBounded opens the regular file at path, of at most limit bytes, for
// reading through fsys, never following a symlink at it nor blocking on a
// FIFO, and returns it with its size. A missing path is an error wrapping
// fs.ErrNotExist.
func OpenBounded(fsys StageFS, path string, limit int64) (*os.File, int64, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, 0, err
	}
	info, err := Stat(f)
	if err == nil {
		err = checkBounded(path, info, limit)
	}
	if err != nil {
		_ = f.Close() // read-only: nothing to lose
		return nil, 0, err
	}
	return f, info.Size, nil
}

// ReadBounded reads the regular file at path, of at most limit bytes,
// through fsys (OpenBounded: no symlink followed, the file opened is the one
// checked): every state file, record and cache snapsync reads back is read
// so. A missing path is an error wrapping fs.ErrNotExist.
func ReadBounded(fsys StageFS, path string, limit int64) ([]byte, error) {
	f, _, err := OpenBounded(fsys, path, limit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s grew beyond %d bytes", ErrNotBounded, path, limit)
	}
	return b, nil
}

func checkBounded(path string, info Info, limit int64) error {
	if !info.Mode.IsRegular() || info.Size > limit {
		return fmt.Errorf("%w: %s is %v of %d bytes, want a regular file of at most %d",
			ErrNotBounded, path, info.Mode.Type(), info.Size, limit)
	}
	return nil
}

// ReadFileBounded is ReadBounded for an FS that does not open files (package
// swap's): the entry at path is checked with Lstat — a regular file, not a
// symlink, of at most limit bytes — then read; what was read is checked
// against limit again. Where the FS resolves below a handle that follows no
// symlink (Beneath), the read cannot leave it either.
func ReadFileBounded(fsys FS, path string, limit int64) ([]byte, error) {
	info, err := fsys.Lstat(path)
	if err != nil {
		return nil, err
	}
	if err := checkBounded(path, info, limit); err != nil {
		return nil, err
	}
	b, err := fsys.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%w: %s grew beyond %d bytes", ErrNotBounded, path, limit)
	}
	return b, nil
}
