package registry

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// plainTree checks that root is a directory holding only directories and
// regular files: a checkpoint with symlinks or devices is refused.
func plainTree(ctx context.Context, root string) error {
	fi, err := os.Lstat(root)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrRejected, err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrRejected, root)
	}
	files := 0
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		switch {
		case d.IsDir():
		case d.Type().IsRegular():
			files++
		default:
			return fmt.Errorf("%w: %s is %v, not a directory or regular file", ErrRejected, p, d.Type())
		}
		return nil
	})
	if err != nil {
		return err
	}
	if files == 0 {
		return fmt.Errorf("%w: %s holds no files: not a checkpoint", ErrRejected, root)
	}
	return nil
}

// linkTree recreates src's directories under dst (which must not exist) and
// hard-links every file: milliseconds, no copy, same inodes (so the server's
// digest cache recognises the files).
func linkTree(ctx context.Context, src, dst string) error {
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case d.IsDir():
			return os.Mkdir(target, 0o755)
		case d.Type().IsRegular():
			return os.Link(p, target)
		}
		return fmt.Errorf("%w: %s is %v", ErrRejected, p, d.Type())
	})
	if err != nil {
		return fmt.Errorf("link checkpoint %s: %w", src, err)
	}
	return nil
}
