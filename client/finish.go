package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// finish completes stage/ once every chunk is in place: hard-link groups,
// nothing unexpected, every size right, directory modes, and every
// directory fsynced (files with data were fsynced as they completed; bare
// empty files and links are made durable by their directory's fsync:
// docs/DESIGN.md, "Durability of the staged tree").
func (s *stager) finish(ctx context.Context, rootMode fs.FileMode) error {
	m := s.plan.m
	for i := range m.Files {
		if n := s.plan.remaining[i].Load(); m.Files[i].LinkTo < 0 && n != 0 {
			return fmt.Errorf("%w: %s has %d chunks not verified", ErrStaging, m.Files[i].Path, n)
		}
	}
	if err := s.linkMembers(); err != nil {
		return err
	}
	if err := checkTree(ctx, s.fs, s.root, m, s.mask); err != nil {
		return err
	}
	if err := setDirModes(s.fs, s.root, m, rootMode, s.mask); err != nil {
		return err
	}
	if err := durable.SyncTree(ctx, s.fs, s.root); err != nil {
		return fmt.Errorf("sync staged tree: %w", err)
	}
	return nil
}

// linkMembers makes every member of a hard-link group a link to its leader:
// one link call per member, and only where an earlier attempt left an entry
// at the member's path a look at what it is.
func (s *stager) linkMembers() error {
	for i := range s.plan.m.Files {
		f := &s.plan.m.Files[i]
		if f.LinkTo < 0 {
			continue
		}
		leader, member := s.path(f.LinkTo), s.path(i)
		err := s.fs.Link(leader, member)
		if errors.Is(err, fs.ErrExist) {
			err = s.relink(leader, member)
		}
		if err != nil {
			return fmt.Errorf("link %s: %w", f.Path, err)
		}
	}
	return nil
}

// relink makes member, where an earlier attempt left an entry, a link of
// leader, unless it already is one.
func (s *stager) relink(leader, member string) error {
	linfo, err := s.fs.Lstat(leader)
	if err != nil {
		return fmt.Errorf("stat %s: %w", leader, err)
	}
	if minfo, err := s.fs.Lstat(member); err == nil && minfo.ID.Same(linfo.ID) {
		return nil
	}
	if err := removeEntry(s.fs, member); err != nil {
		return err
	}
	return s.fs.Link(leader, member)
}

// checkTree makes stage/ hold exactly the manifest's entries and checks each
// of them, one directory at a time: the directory's listing with each
// entry's Info (ReadDirInfo: no path lookup per file) is merged with the
// manifest's entries of that directory, both sorted by name. What the
// manifest does not list (left by an interrupted attempt) is removed. A
// missing entry, one of the wrong type, a file of the wrong size or
// (masked) mode, or a hard-link member that is not a link of its leader is
// ErrStaging. The content was verified chunk by chunk as it was placed.
func checkTree(ctx context.Context, fsys durable.StageFS, root string, m *verify.Manifest, mask fs.FileMode) error {
	t := newTreeIndex(m)
	c := &treeCheck{fsys: fsys, root: root, m: m, mask: mask, leaders: make(map[int32]durable.FileID)}
	for i := range m.Files {
		if l := m.Files[i].LinkTo; l >= 0 {
			c.leaders[int32(l)] = durable.FileID{}
		}
	}
	for _, dir := range t.dirs() {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		if err := c.dir(dir, t.children(dir)); err != nil {
			return err
		}
	}
	if c.seen != len(m.Files)+len(m.Dirs) {
		return fmt.Errorf("%w: %d staged entries checked, the manifest lists %d", ErrStaging, c.seen, len(m.Files)+len(m.Dirs))
	}
	return c.links()
}

// treeCheck is the state of one checkTree.
type treeCheck struct {
	fsys    durable.StageFS
	root    string
	m       *verify.Manifest
	mask    fs.FileMode
	seen    int                      // manifest entries found and checked
	leaders map[int32]durable.FileID // the identity of every group leader
	members []memberID               // every group member, checked once all leaders are seen
}

type memberID struct {
	file int32
	id   durable.FileID
}

// dir merges the listing of the manifest directory rel ("" for root) with
// want, the manifest's entries in it sorted by name.
func (c *treeCheck) dir(rel string, want []ref) error {
	p := c.root
	if rel != "" {
		var err error
		if p, err = join(c.root, rel); err != nil {
			return err
		}
	}
	have, err := c.fsys.ReadDirInfo(p)
	if err != nil {
		return fmt.Errorf("%w: list %s: %v", ErrStaging, p, err)
	}
	i, j := 0, 0
	for i < len(have) || j < len(want) {
		switch {
		case j == len(want) || (i < len(have) && have[i].Name < want[j].name(c.m)):
			if err := removeEntry(c.fsys, filepath.Join(p, have[i].Name)); err != nil {
				return err
			}
			i++
		case i == len(have) || have[i].Name > want[j].name(c.m):
			return fmt.Errorf("%w: staged %s is missing", ErrStaging, want[j].path(c.m))
		default:
			if err := c.entry(want[j], have[i].Info); err != nil {
				return err
			}
			i, j = i+1, j+1
		}
	}
	return nil
}

// entry checks one staged entry against the manifest's.
func (c *treeCheck) entry(r ref, info durable.Info) error {
	c.seen++
	if r.isDir() {
		if !info.Mode.IsDir() {
			return fmt.Errorf("%w: staged %s has the wrong type", ErrStaging, r.path(c.m))
		}
		return nil
	}
	f := &c.m.Files[r]
	switch want := fileMode(f.Mode, c.mask); {
	case !info.Mode.IsRegular():
		return fmt.Errorf("%w: staged %s is not a regular file", ErrStaging, f.Path)
	case info.Size != f.Size:
		return fmt.Errorf("%w: staged %s is %d bytes, want %d", ErrStaging, f.Path, info.Size, f.Size)
	case info.Mode.Perm() != want:
		return fmt.Errorf("%w: staged %s has mode %v, want %v", ErrStaging, f.Path, info.Mode.Perm(), want)
	}
	if f.LinkTo >= 0 {
		c.members = append(c.members, memberID{file: int32(r), id: info.ID})
	} else if _, ok := c.leaders[int32(r)]; ok {
		c.leaders[int32(r)] = info.ID
	}
	return nil
}

// links checks that every group member is a link of its leader.
func (c *treeCheck) links() error {
	for _, mb := range c.members {
		f := &c.m.Files[mb.file]
		if !mb.id.Same(c.leaders[int32(f.LinkTo)]) {
			return fmt.Errorf("%w: staged %s is not a link of %s", ErrStaging, f.Path, c.m.Files[f.LinkTo].Path)
		}
	}
	return nil
}

// setDirModes gives every directory its manifest mode, masked (dirMode),
// deepest first, and the root rootMode, through fsys (no symlink followed).
func setDirModes(fsys durable.StageFS, root string, m *verify.Manifest, rootMode, mask fs.FileMode) error {
	for _, d := range slices.Backward(m.Dirs) {
		p, err := join(root, d.Path)
		if err != nil {
			return err
		}
		if err := fsys.Chmod(p, dirMode(d.Mode, mask)); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	if err := fsys.Chmod(root, rootMode); err != nil {
		return fmt.Errorf("chmod %s: %w", root, err)
	}
	return nil
}

// rootModeFor returns the mode the new tree's root gets: the current
// database's (a directory of this follower, not the leader's word), less
// world-write, or 0755 when there is none.
func rootModeFor(fsys durable.FS, dest string) fs.FileMode {
	info, err := fsys.Lstat(dest)
	if err != nil || !info.Mode.IsDir() {
		return 0o755
	}
	return dirMode(info.Mode.Perm(), 0)
}

// fileMode is the mode an installed file gets for the leader's perm: the
// permission bits less mask and world-write (never setuid, setgid or
// sticky), and at least owner-readable.
func fileMode(perm, mask fs.FileMode) fs.FileMode {
	return perm&fs.ModePerm&^mask&^0o002 | 0o400
}

// dirMode is the mode an installed directory gets for the leader's perm:
// as fileMode, but at least owner rwx, so the install can finish it.
func dirMode(perm, mask fs.FileMode) fs.FileMode {
	return perm&fs.ModePerm&^mask&^0o002 | 0o700
}
