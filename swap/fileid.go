package swap

import (
	"errors"
	"io/fs"

	"github.com/snapsync/snapsync/internal/durable"
)

// FileID identifies a file or directory on one machine: device, inode and,
// where the filesystem records it, birth time (see durable.FileID). Recover
// tells trees apart by FileID, never by name.
type FileID = durable.FileID

// lstatInfo returns what is at path; ok is false, with no error, when
// nothing is there.
func lstatInfo(fsys durable.FS, path string) (info durable.Info, ok bool, err error) {
	info, err = fsys.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return durable.Info{}, false, nil
	}
	if err != nil {
		return durable.Info{}, false, err
	}
	return info, true, nil
}
