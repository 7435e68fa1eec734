package durable

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
)

// SyncTree fsyncs every directory of the tree at root through fsys, deepest
// first, then root's parent, so that every entry of the tree, root's own
// included, is durable. Files are the caller's to fsync; symlinks are not
// followed.
func SyncTree(ctx context.Context, fsys FS, root string) error {
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if d.IsDir() {
			dirs = append(dirs, p)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("walk %s: %w", root, err)
	}
	slices.Reverse(dirs) // WalkDir lists a directory before its children
	for _, d := range append(dirs, filepath.Dir(filepath.Clean(root))) {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := fsys.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// RemoveTree removes the tree at path through fsys, entry by entry of its top
// directory so that a cancelled context stops it between entries, then fsyncs
// its parent. A missing path is no error; a symlink at path is removed, not
// followed.
func RemoveTree(ctx context.Context, fsys FS, path string) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var entries []os.DirEntry
	var err error
	// A symlink at path is removed itself; what it points to is not ours.
	if fi, lerr := os.Lstat(path); lerr == nil && fi.IsDir() {
		entries, err = os.ReadDir(path)
	}
	if err != nil && !os.IsNotExist(err) && !isNotDir(fsys, path) {
		return fmt.Errorf("list %s: %w", path, err)
	}
	for _, e := range entries {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := fsys.RemoveAll(filepath.Join(path, e.Name())); err != nil {
			return err
		}
	}
	if err := fsys.RemoveAll(path); err != nil {
		return err
	}
	err = fsys.SyncDir(filepath.Dir(filepath.Clean(path)))
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no parent, nothing to make durable
	}
	return err
}

// isNotDir reports whether path exists and is not a directory, which
// RemoveTree removes like any other entry.
func isNotDir(fsys FS, path string) bool {
	info, err := fsys.Lstat(path)
	return err == nil && !info.Mode.IsDir()
}
