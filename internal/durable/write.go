package durable

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
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

// WriteStream installs at path what write writes, as WriteFile does, for
// content too large to hold in memory: write fills a new temporary file
// beside path, named tmpPrefix and a random suffix (so two writers of one
// path never write into each other's file), which is fsynced, given perm,
// renamed over path, and the directory fsynced. On an error the temporary
// file is removed (best effort).
func WriteStream(path, tmpPrefix string, perm fs.FileMode, write func(w io.Writer) error) (err error) {
	f, err := os.CreateTemp(filepath.Dir(path), tmpPrefix+"*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			// Best effort: the error to report is the first one, and the
			// temporary file's name is never one a reader asks for.
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", f.Name(), err)
	}
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("chmod %s: %w", f.Name(), err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close %s: %w", f.Name(), err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", f.Name(), err)
	}
	return SyncDir(filepath.Dir(path))
}
