package server

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// tree is what a walk finds: every directory below the root and every
// regular file, hard links detected by (dev, inode). Files are kept in
// columns (a path table, not a string each) so a million of them cost tens
// of MiB, not hundreds (docs/DESIGN.md invariant 5).
type tree struct {
	dirs  []verify.Dir
	paths pathTable
	modes []fs.FileMode
	keys  []digestcache.Key
	links []int32 // index of the first file with the same (dev, inode), or -1
}

func (t *tree) files() int { return t.paths.len() }

// walkTree lists the tree at root. A symlink or a special file is an error:
// a checkpoint holds only directories and regular files.
func walkTree(ctx context.Context, root string, chunkSize uint32) (*tree, error) {
	t := &tree{}
	inodes := make(map[[2]uint64]int32) // of files with more than one link
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

func (t *tree) add(root, p string, d fs.DirEntry, chunkSize uint32, inodes map[[2]uint64]int32) error {
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
	if t.files() >= verify.MaxFiles {
		return fmt.Errorf("%w: more than %d files", verify.ErrTooLarge, verify.MaxFiles)
	}
	info, err := durable.Lstat(p)
	if err != nil {
		return err
	}
	if !info.Mode.IsRegular() {
		return fmt.Errorf("%w: %q changed type while walked (%v)", ErrChanged, rel, info.Mode.Type())
	}
	key := digestcache.KeyOf(info, chunkSize)
	link := int32(-1)
	if info.Nlink > 1 {
		ino := [2]uint64{key.ID.Dev, key.ID.Ino}
		if first, ok := inodes[ino]; ok {
			link = first
		} else {
			inodes[ino] = int32(t.files())
		}
	}
	t.paths.add(rel)
	t.modes = append(t.modes, info.Mode.Perm())
	t.keys = append(t.keys, key)
	t.links = append(t.links, link)
	return nil
}

// sorted returns t in canonical order: dirs and files by path, each file of
// a hard-link group linked to the group's first in that order.
func (t *tree) sorted() *tree {
	slices.SortFunc(t.dirs, func(a, b verify.Dir) int { return strings.Compare(a.Path, b.Path) })
	order := t.paths.order()
	pos := make([]int32, len(order)) // walk index -> sorted index
	for n, o := range order {
		pos[o] = int32(n)
	}
	lead := make(map[int32]int32) // a group's first in the walk -> its first sorted
	for o, first := range t.links {
		if first < 0 {
			continue
		}
		m := min(pos[o], pos[first])
		if cur, ok := lead[first]; !ok || m < cur {
			lead[first] = m
		}
	}
	s := &tree{dirs: t.dirs, paths: t.paths.permute(order), modes: make([]fs.FileMode, len(order)),
		keys: make([]digestcache.Key, len(order)), links: make([]int32, len(order))}
	for n, o := range order {
		s.modes[n], s.keys[n], s.links[n] = t.modes[o], t.keys[o], -1
		first := t.links[o]
		if first < 0 {
			first = o
		}
		if l, ok := lead[first]; ok && l != int32(n) {
			s.links[n] = l
		}
	}
	return s
}
