package durable

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
)

// SyncTree fsyncs every directory of the tree at root through fsys, deepest
// first, then root's parent, so that every entry of the tree, root's own
// included, is durable. Files are the caller's to fsync; symlinks are not
// followed.
func SyncTree(ctx context.Context, fsys FS, root string) error {
	dirs, err := listDirs(ctx, fsys, root, nil)
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

// listDirs appends dir and every directory below it, parents first and in
// lexical order, to dirs, listing through fsys (a symlink is not a directory).
func listDirs(ctx context.Context, fsys FS, dir string, dirs []string) ([]string, error) {
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	dirs = append(dirs, dir)
	entries, err := fsys.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		if e.IsDir() {
			if dirs, err = listDirs(ctx, fsys, filepath.Join(dir, e.Name()), dirs); err != nil {
				return nil, err
			}
		}
	}
	return dirs, nil
}

// RemoveTree removes the tree at path through fsys, entry by entry of its top
// directory so that a cancelled context stops it between entries, then fsyncs
// its parent. A missing path is no error; a symlink at path is removed, not
// followed.
func RemoveTree(ctx context.Context, fsys FS, path string) error {
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	var entries []fs.DirEntry
	var err error
	// A symlink at path is removed itself; what it points to is not ours.
	if info, lerr := fsys.Lstat(path); lerr == nil && info.Mode.IsDir() {
		entries, err = fsys.ReadDir(path)
	}
	if err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotDir(fsys, path) {
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
