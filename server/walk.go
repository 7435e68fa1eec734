package server

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// treeFile is a regular file found by walking a checkpoint.
type treeFile struct {
	path string // relative, slash-separated, validated
	mode fs.FileMode
	key  digestcache.Key
	link int // index of the first file with the same (dev, inode), or -1
}

// tree is what a walk finds: every directory below the root and every
// regular file, hard links detected by (dev, inode).
type tree struct {
	dirs  []verify.Dir
	files []treeFile
}

// walkTree lists the tree at root. A symlink or a special file is an error:
// a checkpoint holds only directories and regular files.
func walkTree(ctx context.Context, root string, chunkSize uint32) (*tree, error) {
	t := &tree{}
	inodes := make(map[[2]uint64]int)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return context.Cause(ctx)
		}
		if p == root {
			if !d.IsDir() {
				return fmt.Errorf("%w: %s is not a directory", ErrUnsupportedFile, root)
			}
			return nil
		}
		return t.add(root, p, d, chunkSize, inodes)
	})
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}
	return t, nil
}

func (t *tree) add(root, p string, d fs.DirEntry, chunkSize uint32, inodes map[[2]uint64]int) error {
	rel, err := filepath.Rel(root, p)
	if err != nil {
		return err
	}
	rel = filepath.ToSlash(rel)
	if err := verify.ValidatePath(rel); err != nil {
		return err
	}
	switch typ := d.Type(); {
	case typ.IsDir():
		fi, err := d.Info()
		if err != nil {
			return err
		}
		t.dirs = append(t.dirs, verify.Dir{Path: rel, Mode: fi.Mode().Perm()})
		return nil
	case typ&fs.ModeSymlink != 0:
		return fmt.Errorf("%w: %q is a symlink; a checkpoint holds only directories and regular files", ErrUnsupportedFile, rel)
	case !typ.IsRegular():
		return fmt.Errorf("%w: %q is a special file (%v)", ErrUnsupportedFile, rel, typ)
	}
	info, err := durable.Lstat(p)
	if err != nil {
		return err
	}
	if !info.Mode.IsRegular() {
		return fmt.Errorf("%w: %q changed type while walked (%v)", ErrChanged, rel, info.Mode.Type())
	}
	key := digestcache.KeyOf(info, chunkSize)
	f := treeFile{path: rel, mode: info.Mode.Perm(), key: key, link: -1}
	if first, ok := inodes[[2]uint64{key.ID.Dev, key.ID.Ino}]; ok {
		f.link = first
	} else {
		inodes[[2]uint64{key.ID.Dev, key.ID.Ino}] = len(t.files)
	}
	t.files = append(t.files, f)
	return nil
}
