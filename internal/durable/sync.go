package durable

import (
	"errors"
	"fmt"
	"os"
)

// SyncDir opens the directory path and fsyncs it, so the creations, renames
// and removals of entries in it are durable.
func SyncDir(path string) error {
	d, err := os.Open(path)
	if err != nil {
		return err // a *PathError naming path; callers test fs.ErrNotExist
	}
	serr := d.Sync()
	cerr := d.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("sync dir %s: %w", path, err)
	}
	return nil
}

// writeFileSync creates or truncates path, not following a symlink, writes
// data and fsyncs it.
func writeFileSync(path string, data []byte, perm os.FileMode) error {
	f, err := OpenNoFollow(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	return errors.Join(werr, serr, cerr) // each a *PathError naming path
}
