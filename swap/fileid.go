package swap

import (
	"errors"
	"fmt"
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

// place is a path whose identity is looked at, with what it is.
type place struct {
	what, path string
	id         *FileID
}

// identifyAll sets each place's id to the identity of what is at its path,
// zero when nothing is there.
func identifyAll(fsys durable.FS, places ...place) error {
	for _, p := range places {
		info, _, err := lstatInfo(fsys, p.path)
		if err != nil {
			return fmt.Errorf("%s %s: %w", p.what, p.path, err)
		}
		*p.id = info.ID
	}
	return nil
}
