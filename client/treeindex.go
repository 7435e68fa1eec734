package client

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// ref names one entry of a manifest in 4 bytes: a file's index (>= 0), or
// the directory m.Dirs[-r-1].
type ref int32

func (r ref) isDir() bool { return r < 0 }

// path returns the entry's manifest path.
func (r ref) path(m *verify.Manifest) string {
	if r.isDir() {
		return m.Dirs[-r-1].Path
	}
	return m.Files[r].Path
}

// name returns the entry's last component.
func (r ref) name(m *verify.Manifest) string {
	_, base := splitPath(r.path(m))
	return base
}

// splitPath splits a manifest path at its last slash: ("", p) at the root.
func splitPath(p string) (dir, base string) {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return "", p
	}
	return p[:i], p[i+1:]
}

// treeIndex orders a manifest's entries by directory, then by name, so a
// directory's entries are one run that merges with its sorted listing: a
// slice of 4-byte refs, and a map with one key per directory, instead of a
// map of every path.
type treeIndex struct {
	m     *verify.Manifest
	order []ref
	runs  map[string][2]int // directory → its run in order
}

func newTreeIndex(m *verify.Manifest) *treeIndex {
	t := &treeIndex{m: m, order: make([]ref, 0, len(m.Files)+len(m.Dirs)), runs: make(map[string][2]int, len(m.Dirs)+1)}
	for i := range m.Dirs {
		t.order = append(t.order, ref(-i-1))
	}
	for i := range m.Files {
		t.order = append(t.order, ref(i))
	}
	byDirName := func(a, b ref) int {
		ad, an := splitPath(a.path(m))
		bd, bn := splitPath(b.path(m))
		return cmp.Or(strings.Compare(ad, bd), strings.Compare(an, bn))
	}
	slices.SortFunc(t.order, byDirName)
	for lo := 0; lo < len(t.order); {
		dir, _ := splitPath(t.order[lo].path(m))
		hi := lo + 1
		for hi < len(t.order) {
			if d, _ := splitPath(t.order[hi].path(m)); d != dir {
				break
			}
			hi++
		}
		t.runs[dir] = [2]int{lo, hi}
		lo = hi
	}
	return t
}

// dirs returns the directories to list: the root ("") and every directory
// of the manifest.
func (t *treeIndex) dirs() []string {
	out := make([]string, 0, len(t.m.Dirs)+1)
	out = append(out, "")
	for _, d := range t.m.Dirs {
		out = append(out, d.Path)
	}
	return out
}

// children returns the entries of dir ("" for the root), sorted by name.
func (t *treeIndex) children(dir string) []ref {
	r, ok := t.runs[dir]
	if !ok {
		return nil
	}
	return t.order[r[0]:r[1]]
}

// eachStaged calls visit with the Info of every file of m staged below
// root, one directory listing at a time (ReadDirInfo) rather than one path
// lookup per file. Entries the manifest does not list are skipped; a
// listed file that is missing is an error.
func eachStaged(fsys durable.FS, root string, m *verify.Manifest, visit func(i int, info durable.Info)) error {
	t := newTreeIndex(m)
	for _, dir := range t.dirs() {
		have, err := listStaged(fsys, root, dir)
		if err != nil {
			return err
		}
		if n := matchFiles(m, t.children(dir), have, visit); n > 0 {
			return fmt.Errorf("staged %s: %d files missing: %w", path.Join(root, dir), n, fs.ErrNotExist)
		}
	}
	return nil
}
