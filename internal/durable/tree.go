package durable

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"golang.org/x/sync/errgroup"
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

// removers is how many entries of a tree RemoveTree removes at once. An
// unlink of a large file waits in the kernel while its extents are freed:
// on a filesystem mounted with online discard (ext4 -o discard, common on
// cloud disks) each freed extent is a synchronous discard to the device,
// and unlinks side by side keep the device's queue full. Measured on this
// project's 2-core VM (ext4, discard): 81 files of 3.6 MB in 85–95 ms one by
// one, 63 ms four at a time, 57–60 ms sixteen at a time; 243 files of 4.8 MB
// in 362, 282–295 and 247–260 ms.
const removers = 16

// RemoveTree removes the tree at path through fsys, the entries of its top
// directory a few at a time (removers) so that a cancelled context stops it
// between entries, then fsyncs its parent. A missing path is no error; a
// symlink at path is removed, not followed.
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
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(removers)
	for _, e := range entries {
		if gctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if gctx.Err() != nil {
				return context.Cause(gctx)
			}
			return fsys.RemoveAll(filepath.Join(path, e.Name()))
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
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
