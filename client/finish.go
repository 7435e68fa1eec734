package client

import (
	"context"
	"fmt"
	"io/fs"
	"os"
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
	if err := checkStaged(s.root, m); err != nil {
		return err
	}
	if err := setDirModes(s.root, m, rootMode); err != nil {
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
		lfi, err := os.Lstat(leader)
		if err != nil {
			return fmt.Errorf("stat %s: %w", leader, err)
		}
		if mfi, err := os.Lstat(member); err == nil && os.SameFile(lfi, mfi) {
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
// (left by an interrupted attempt) and refuses entries of the wrong type.
func pruneExtras(fsys durable.FS, root string, m *verify.Manifest) error {
	want := make(map[string]bool, len(m.Dirs)+len(m.Files))
	for _, d := range m.Dirs {
		want[d.Path] = true
	}
	for _, f := range m.Files {
		want[f.Path] = false
	}
	return filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == root {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		isDir, listed := want[filepath.ToSlash(rel)]
		switch {
		case !listed:
			if err := removeEntry(fsys, p); err != nil {
				return err
			}
			if d.IsDir() {
				return filepath.SkipDir
			}
		case isDir != d.IsDir() || (!isDir && !d.Type().IsRegular()):
			return fmt.Errorf("%w: staged %s has the wrong type", ErrStaging, rel)
		}
		return nil
	})
}

// checkStaged checks every staged file's type and size and every hard-link
// group; the content was verified chunk by chunk as it was placed.
func checkStaged(root string, m *verify.Manifest) error {
	infos := make([]fs.FileInfo, len(m.Files))
	for i := range m.Files {
		f := &m.Files[i]
		p, err := join(root, f.Path)
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrStaging, err)
		}
		switch {
		case !fi.Mode().IsRegular():
			return fmt.Errorf("%w: staged %s is not a regular file", ErrStaging, f.Path)
		case fi.Size() != f.Size:
			return fmt.Errorf("%w: staged %s is %d bytes, want %d", ErrStaging, f.Path, fi.Size(), f.Size)
		case fi.Mode().Perm() != f.Mode:
			return fmt.Errorf("%w: staged %s has mode %v, want %v", ErrStaging, f.Path, fi.Mode().Perm(), f.Mode)
		case f.LinkTo >= 0 && !os.SameFile(fi, infos[f.LinkTo]):
			return fmt.Errorf("%w: staged %s is not a link of %s", ErrStaging, f.Path, m.Files[f.LinkTo].Path)
		}
		infos[i] = fi
	}
	return nil
}

// setDirModes gives every directory its manifest mode, deepest first so that
// a directory closed to its owner is closed last, and the root rootMode.
func setDirModes(root string, m *verify.Manifest, rootMode fs.FileMode) error {
	for _, d := range slices.Backward(m.Dirs) {
		p, err := join(root, d.Path)
		if err != nil {
			return err
		}
		if err := os.Chmod(p, d.Mode); err != nil {
			return fmt.Errorf("chmod %s: %w", p, err)
		}
	}
	if err := os.Chmod(root, rootMode); err != nil {
		return fmt.Errorf("chmod %s: %w", root, err)
	}
	return nil
}

// rootModeFor returns the mode the new tree's root gets: the current
// database's, or 0755 when there is none.
func rootModeFor(dest string) fs.FileMode {
	fi, err := os.Stat(dest)
	if err != nil || !fi.IsDir() {
		return 0o755
	}
	return fi.Mode().Perm()
}
