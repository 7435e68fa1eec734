package durable

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// TmpSuffix marks the temporary file WriteFile writes beside its target; a
// leftover is what a crash in the middle of WriteFile leaves.
const TmpSuffix = ".tmp"

// WriteFile installs data at path through fsys: it writes path+TmpSuffix
// with perm and fsyncs it, renames it over path and fsyncs the directory. A
// crash leaves the old file or the new one, whole, never a torn one; on an
// error the temporary file is removed (best effort).
func WriteFile(fsys FS, path string, data []byte, perm fs.FileMode) (err error) {
	tmp := path + TmpSuffix
	defer func() {
		if err != nil {
			// Best effort: the error to report is the first one, and a leftover
			// is overwritten by the next write.
			_ = fsys.Remove(tmp)
		}
	}()
	if err := fsys.WriteFile(tmp, data, perm); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := fsys.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return fsys.SyncDir(filepath.Dir(path))
}

// Remove removes the file or empty directory at path through fsys and
// fsyncs its directory; a missing path is no error, its directory is still
// synced.
func Remove(fsys FS, path string) error {
	if err := fsys.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove %s: %w", path, err)
	}
	return fsys.SyncDir(filepath.Dir(path))
}
