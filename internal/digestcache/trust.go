package digestcache

import (
	"fmt"
	"io"
	"os"
	"syscall"

	"github.com/snapsync/snapsync/internal/durable"
)

// CheckTrusted refuses a cache file described by info that uid could not
// have written alone: anything but a regular file, one larger than
// maxChunks chunks need, one owned by another uid, one group- or
// world-writable, or one with another name (a hard link someone else made
// keeps their copy in step). A cache's seal is a plain SHA-256 anyone can
// compute: what makes a cache snapsync's own is who could have written it
// (docs/DESIGN.md invariant 8).
func CheckTrusted(info durable.Info, uid, maxChunks int) error {
	var why string
	switch {
	case !info.Mode.IsRegular():
		why = "is not a regular file"
	case info.Size > MaxEncodedSize(maxChunks):
		why = fmt.Sprintf("holds more than %d bytes", MaxEncodedSize(maxChunks))
	case uid >= 0 && int64(info.Uid) != int64(uid):
		why = fmt.Sprintf("is owned by uid %d, not by this process's uid %d", info.Uid, uid)
	case info.Mode.Perm()&0o022 != 0:
		why = "is group- or world-writable"
	case info.Nlink != 1:
		why = fmt.Sprintf("has %d names", info.Nlink)
	default:
		return nil
	}
	return fmt.Errorf("%w: it %s (owner uid %d, mode %v); not written by snapsync alone, it is not believed",
		ErrBad, why, info.Uid, info.Mode)
}

// ReadTrusted reads the cache file at path through fsys (no symlink
// followed, without blocking on a FIFO) if CheckTrusted accepts the file
// opened for this process's uid. A missing file is an error wrapping
// fs.ErrNotExist.
func ReadTrusted(fsys durable.StageFS, path string, maxChunks int) ([]byte, error) {
	f, err := fsys.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	info, err := durable.Stat(f)
	if err != nil {
		return nil, err
	}
	if err := CheckTrusted(info, os.Geteuid(), maxChunks); err != nil {
		return nil, err
	}
	b := make([]byte, info.Size)
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("%w: read: %w", ErrBad, err)
	}
	return b, nil
}
