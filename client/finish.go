package client

import (
	"context"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"slices"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// finish completes stage/ once every chunk is in place: hard-link groups,
// nothing unexpected, every size right, directory modes, and every
// directory fsynced (files were fsynced as they completed).
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
	if err := pruneExtras(s.fs, s.root, m); err != nil {
		return err
	}
	if err := checkStaged(s.fs, s.root, m, s.mask); err != nil {
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

// linkMembers makes every member of a hard-link group a link to its leader.
func (s *stager) linkMembers() error {
	for i := range s.plan.m.Files {
		f := &s.plan.m.Files[i]
		if f.LinkTo < 0 {
			continue
		}
		leader, member := s.path(f.LinkTo), s.path(i)
		linfo, err := s.fs.Lstat(leader)
		if err != nil {
			return fmt.Errorf("stat %s: %w", leader, err)
		}
		if minfo, err := s.fs.Lstat(member); err == nil && minfo.ID.Same(linfo.ID) {
			continue
		}
		if err := removeEntry(s.fs, member); err != nil {
			return err
		}
		if err := s.fs.Link(leader, member); err != nil {
			return fmt.Errorf("link %s: %w", f.Path, err)
		}
	}
	return nil
}

// pruneExtras removes whatever stage/ holds that the manifest does not list
// (left by an interrupted attempt) and refuses entries of the wrong type,
// listing through fsys.
func pruneExtras(fsys durable.FS, root string, m *verify.Manifest) error {
	want := make(map[string]bool, len(m.Dirs)+len(m.Files))
	for _, d := range m.Dirs {
		want[d.Path] = true
	}
	for _, f := range m.Files {
		want[f.Path] = false
	}
	return pruneDir(fsys, root, "", want)
}

func pruneDir(fsys durable.FS, root, rel string, want map[string]bool) error {
	entries, err := fsys.ReadDir(filepath.Join(root, filepath.FromSlash(rel)))
	if err != nil {
		return err
	}
	for _, e := range entries {
		r := path.Join(rel, e.Name())
		p := filepath.Join(root, filepath.FromSlash(r))
		isDir, listed := want[r]
		switch {
		case !listed:
			if err := removeEntry(fsys, p); err != nil {
				return err
			}
		case isDir != e.IsDir() || (!isDir && !e.Type().IsRegular()):
			return fmt.Errorf("%w: staged %s has the wrong type", ErrStaging, r)
		case isDir:
			if err := pruneDir(fsys, root, r, want); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkStaged checks every staged file's type, size and (masked) mode and
// every hard-link group; the content was verified chunk by chunk as it was
// placed.
func checkStaged(fsys durable.FS, root string, m *verify.Manifest, mask fs.FileMode) error {
	ids := make([]durable.FileID, len(m.Files))
	for i := range m.Files {
		f := &m.Files[i]
		p, err := join(root, f.Path)
		if err != nil {
			return err
		}
		info, err := fsys.Lstat(p)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrStaging, err)
		}
		switch want := fileMode(f.Mode, mask); {
		case !info.Mode.IsRegular():
			return fmt.Errorf("%w: staged %s is not a regular file", ErrStaging, f.Path)
		case info.Size != f.Size:
			return fmt.Errorf("%w: staged %s is %d bytes, want %d", ErrStaging, f.Path, info.Size, f.Size)
		case info.Mode.Perm() != want:
			return fmt.Errorf("%w: staged %s has mode %v, want %v", ErrStaging, f.Path, info.Mode.Perm(), want)
		case f.LinkTo >= 0 && !info.ID.Same(ids[f.LinkTo]):
			return fmt.Errorf("%w: staged %s is not a link of %s", ErrStaging, f.Path, m.Files[f.LinkTo].Path)
		}
		ids[i] = info.ID
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
