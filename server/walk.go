package server

import (
	"cmp"
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sync/errgroup"

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
	modes column[fs.FileMode]
	keys  column[digestcache.Key]
	links column[int32] // index of the first file with the same (dev, inode), or -1
}

func (t *tree) files() int { return t.paths.len() }

// walkTree lists the tree at root. A symlink or a special file is an error:
// a checkpoint holds only directories and regular files. Files come in
// canonical order (byte order of their paths), so the build sorts nothing.
// Directories are read first, then files are stat'ed (one statx each,
// an empty file is never opened) parallel at once.
func walkTree(ctx context.Context, root string, chunkSize uint32, parallel int) (*tree, error) {
	fi, err := os.Lstat(root)
	if err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("walk %s: %w: %s is not a directory", root, ErrUnsupportedFile, root)
	}
	t := &tree{}
	if err := t.walkDir(ctx, root, ""); err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}
	if err := t.statFiles(ctx, root, chunkSize, parallel); err != nil {
		return nil, fmt.Errorf("walk %s: %w", root, err)
	}
	t.linkFiles()
	return t, nil
}

// statFiles fills in every file's stat key and mode, a block of files per
// goroutine, parallel at once; a file of more than one link is marked -2
// for linkFiles.
func (t *tree) statFiles(ctx context.Context, root string, chunkSize uint32, parallel int) error {
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	const block = 1 << columnShift
	for first := 0; first < t.files(); first += block {
		g.Go(func() error {
			for i := first; i < min(first+block, t.files()); i++ {
				if err := ctx.Err(); err != nil {
					return context.Cause(ctx)
				}
				if err := t.stat(root, i, chunkSize); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// stat fills in file i.
func (t *tree) stat(root string, i int, chunkSize uint32) error {
	rel := t.paths.at(i)
	info, err := durable.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	if !info.Mode.IsRegular() {
		return fmt.Errorf("%w: %q changed type while walked (%v)", ErrChanged, rel, info.Mode.Type())
	}
	t.keys.set(i, digestcache.KeyOf(info, chunkSize))
	t.modes.set(i, info.Mode.Perm())
	if info.Nlink > 1 {
		t.links.set(i, -2)
	}
	return nil
}

// linkFiles links each file statFiles marked to the first file of the
// same (dev, inode).
func (t *tree) linkFiles() {
	inodes := make(map[[2]uint64]int32) // of files with more than one link
	for i := range t.files() {
		if t.links.at(i) != -2 {
			continue
		}
		key := t.keys.at(i)
		ino := [2]uint64{key.ID.Dev, key.ID.Ino}
		first, ok := inodes[ino]
		if !ok {
			first = -1
			inodes[ino] = int32(i)
		}
		t.links.set(i, first)
	}
}

// walkDir adds what the directory rel (below root; "" is root) holds, in
// canonical order: a directory's entries sort as if its name ended in "/",
// as the paths below it do, so "a.txt" comes before "a/b".
func (t *tree) walkDir(ctx context.Context, root, rel string) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	dir := filepath.Join(root, filepath.FromSlash(rel))
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	slices.SortStableFunc(ents, func(a, b fs.DirEntry) int { return compareEntries(a.Name(), a.IsDir(), b.Name(), b.IsDir()) })
	for _, d := range ents {
		p := d.Name()
		if rel != "" {
			p = rel + "/" + p
		}
		if err := t.add(p, d); err != nil {
			return err
		}
		if d.IsDir() {
			if err := t.walkDir(ctx, root, p); err != nil {
				return err
			}
		}
	}
	return nil
}

// compareEntries orders two names of one directory as the paths below them
// sort: a directory's name as if it ended in "/".
func compareEntries(a string, aDir bool, b string, bDir bool) int {
	n := min(len(a), len(b))
	if c := strings.Compare(a[:n], b[:n]); c != 0 {
		return c
	}
	return cmp.Compare(nextByte(a, aDir, n), nextByte(b, bDir, n))
}

// nextByte is the byte at i of name, as a directory's sorts (-1: the end).
func nextByte(name string, dir bool, i int) int {
	switch {
	case i < len(name):
		return int(name[i])
	case dir && i == len(name):
		return '/'
	}
	return -1
}

// add adds the entry d, whose path below the root is rel; a file's stat
// is statFiles' to fill in.
func (t *tree) add(rel string, d fs.DirEntry) error {
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
	t.paths.add(rel)
	t.modes.add(0)
	t.keys.add(digestcache.Key{})
	t.links.add(-1)
	return nil
}

// sorted returns t in canonical order: dirs and files by path, each file of
// a hard-link group linked to the group's first in that order.
func (t *tree) sorted() *tree {
	slices.SortFunc(t.dirs, func(a, b verify.Dir) int { return strings.Compare(a.Path, b.Path) })
	order, moved := t.paths.order()
	if !moved {
		return t // walkTree's order: its links point at each group's first already
	}
	pos := make([]int32, len(order)) // walk index -> sorted index
	for n, o := range order {
		pos[o] = int32(n)
	}
	lead := make(map[int32]int32) // a group's first in the walk -> its first sorted
	for o := range t.links.len() {
		first := t.links.at(o)
		if first < 0 {
			continue
		}
		m := min(pos[o], pos[first])
		if cur, ok := lead[first]; !ok || m < cur {
			lead[first] = m
		}
	}
	s := &tree{dirs: t.dirs, paths: t.paths.permute(order)}
	for n, o := range order {
		s.modes.add(t.modes.at(int(o)))
		s.keys.add(t.keys.at(int(o)))
		first := t.links.at(int(o))
		if first < 0 {
			first = o
		}
		link := int32(-1)
		if l, ok := lead[first]; ok && l != int32(n) {
			link = l
		}
		s.links.add(link)
	}
	return s
}
