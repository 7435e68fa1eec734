package server

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/snapsync/snapsync/verify"
)

// treeFile is a regular file found by walking a checkpoint.
type treeFile struct {
	path string // relative, slash-separated, validated
	mode fs.FileMode
	key  fileKey
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
	fi, err := d.Info()
	if err != nil {
		return err
	}
	key, err := statKey(fi, chunkSize)
	if err != nil {
		return fmt.Errorf("%q: %w", rel, err)
	}
	f := treeFile{path: rel, mode: fi.Mode().Perm(), key: key, link: -1}
	if first, ok := inodes[[2]uint64{key.Dev, key.Ino}]; ok {
		f.link = first
	} else {
		inodes[[2]uint64{key.Dev, key.Ino}] = len(t.files)
	}
	t.files = append(t.files, f)
	return nil
}

// statKey returns the cache key of a file from its stat.
func statKey(fi os.FileInfo, chunkSize uint32) (fileKey, error) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return fileKey{}, fmt.Errorf("no inode information for %s", fi.Name())
	}
	return fileKey{
		Dev: uint64(st.Dev), Ino: st.Ino, Size: fi.Size(),
		MtimeNs: fi.ModTime().UnixNano(), ChunkSize: chunkSize,
	}, nil
}
