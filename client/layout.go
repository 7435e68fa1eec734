package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// layout names the paths of an install: the destination and the entries of
// the staging area (see the package documentation).
type layout struct {
	dest     string
	names    []string // Config.Replace: the entries of dest a set install replaces
	set      bool     // a set install (Config.Replace), staged inside dest
	root     string   // the staging area
	stage    string
	prev     string
	state    string
	manifest string
	journal  string
	lock     string
	// fs carries the install's file operations below Dest's parent: state
	// and journal writes, creates, mkdirs, chmods, renames, removals, links
	// and syncs. Once lockArea has run, it resolves every path below a
	// handle of that parent, following no symlink.
	fs     durable.StageFS
	wrap   func(durable.StageFS) durable.StageFS
	mask   fs.FileMode // Config.FileModeMask
	within string      // Config.Within
}

func newLayout(cfg *Config) layout {
	r := cfg.StagingDir
	wrap := cfg.wrapFS
	if wrap == nil {
		wrap = func(f durable.StageFS) durable.StageFS { return f }
	}
	return layout{
		fs:       wrap(durable.OS()),
		wrap:     wrap,
		mask:     cfg.FileModeMask,
		within:   cfg.Within,
		dest:     cfg.Dest,
		names:    cfg.Replace,
		set:      cfg.isSet(),
		root:     r,
		stage:    filepath.Join(r, "stage"),
		prev:     filepath.Join(r, "prev"),
		state:    filepath.Join(r, "state.json"),
		manifest: filepath.Join(r, "manifest.bin"),
		journal:  filepath.Join(r, "swap.journal"),
		lock:     filepath.Join(r, "lock"),
	}
}

// pairOld is where package swap's journaled pair of renames puts the old tree.
func (l layout) pairOld() string {
	return filepath.Join(filepath.Dir(l.dest), "."+filepath.Base(l.dest)+".swap-old")
}

// cachePath is the follower digest cache: beside the staging area, so it
// outlives it, and outside the tree that is swapped.
func (l layout) cachePath() string { return l.root + ".digests" }

// stagedDigests records the finished stage/'s files until the swap.
func (l layout) stagedDigests() string { return filepath.Join(l.root, "digests") }

// join returns the path of the manifest path rel below root. It re-checks rel,
// so no path that escapes root is ever formed, whatever the caller.
func join(root, rel string) (string, error) {
	if err := verify.ValidatePath(rel); err != nil {
		return "", err
	}
	return filepath.Join(root, filepath.FromSlash(rel)), nil
}

// makeDirs creates root and every directory of m below it, parents first,
// owner-writable until the tree is finished. An entry in the way that is not
// a real directory (a file, a symlink) is removed through fsys: below root
// everything is the install's own.
func makeDirs(fsys durable.StageFS, root string, m *verify.Manifest) error {
	if err := ensureDir(fsys, root); err != nil {
		return err
	}
	for _, d := range m.Dirs {
		p, err := join(root, d.Path)
		if err != nil {
			return err
		}
		if err := ensureDir(fsys, p); err != nil {
			return err
		}
	}
	return nil
}

func ensureDir(fsys durable.StageFS, p string) error {
	info, err := fsys.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("stat %s: %w", p, err)
	case info.Mode.IsDir():
		if info.Mode.Perm()&0o700 == 0o700 {
			return nil
		}
		return fsys.Chmod(p, 0o700|info.Mode.Perm())
	default:
		if err := fsys.Remove(p); err != nil {
			return fmt.Errorf("remove %s in the way: %w", p, err)
		}
	}
	if err := fsys.Mkdir(p, 0o700); err != nil {
		return fmt.Errorf("mkdir %s: %w", p, err)
	}
	return nil
}

// lockArea opens a handle of Dest's parent (creating the parents of a new
// Dest; see openParent), from which l.fs resolves every path from then on, makes sure the
// staging area is this process's own (ensureArea) and takes its lock, which
// the returned function releases with the handle. Another holder: ErrBusy.
func lockArea(l *layout) (unlock func(), err error) {
	// The destination may be new, below directories that do not exist yet.
	d, err := openParent(l.root, l.within, true)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = d.Close() // read-only handle; the error to report is err
		}
	}()
	l.fs = l.wrap(durable.Beneath(d))
	if err := ensureArea(*l); err != nil {
		return nil, err
	}
	f, err := l.fs.OpenFile(l.lock, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open lock: %w", err)
	}
	c, err := durable.LockFile(f)
	if errors.Is(err, durable.ErrLocked) {
		return nil, fmt.Errorf("%w: %s", ErrBusy, l.root)
	}
	if err != nil {
		return nil, err
	}
	return func() {
		_ = c.Close() // closing releases the flock; nothing was written
		_ = d.Close() // a read-only handle
	}, nil
}

// ensureArea creates the staging area with mode 0700 if it is missing, and
// refuses one this process does not control: a symlink, not a directory,
// owned by another uid, or group- or world-writable. Such an area is never
// used, followed or removed: someone else made it, and what it holds is
// theirs to explain.
func ensureArea(l layout) error {
	if err := l.fs.Mkdir(l.root, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create staging area: %w", err)
	}
	info, err := l.fs.Lstat(l.root)
	if err != nil {
		return fmt.Errorf("stat staging area: %w", err)
	}
	return checkArea(l.root, info, os.Geteuid())
}

// checkArea refuses a staging area described by info that uid does not
// control alone.
func checkArea(root string, info durable.Info, uid int) error {
	var why string
	switch {
	case info.Mode&fs.ModeSymlink != 0:
		why = "is a symlink"
	case !info.Mode.IsDir():
		why = "is not a directory"
	case uid >= 0 && int64(info.Uid) != int64(uid):
		why = fmt.Sprintf("is owned by uid %d, not by this process's uid %d", info.Uid, uid)
	case info.Mode.Perm()&0o022 != 0:
		why = "is group- or world-writable"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s %s (owner uid %d, mode %v); it was not made by this install and is left untouched: "+
		"remove it after checking what it holds, or choose another staging directory",
		ErrStagingUntrusted, root, why, info.Uid, info.Mode)
}

// lstatID returns the identity of p, with its birth time where the
// filesystem records one, zero when nothing is there.
func lstatID(fsys durable.FS, p string) (durable.FileID, error) {
	info, err := fsys.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return durable.FileID{}, nil
	}
	if err != nil {
		return durable.FileID{}, err
	}
	return info.ID, nil
}

// nlink returns the hard-link count of a file.
func nlink(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Nlink)
	}
	return 1
}

// removeTree removes the tree at p through fsys, never what a symlink at p
// points to: a symlink (or any other non-directory) at p is removed as an
// entry. Nothing there: nothing to do.
func removeTree(ctx context.Context, fsys durable.FS, p string) error {
	info, err := fsys.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("stat %s: %w", p, err)
	case info.Mode.IsDir():
		return durable.RemoveTree(ctx, fsys, p)
	}
	return durable.Remove(fsys, p)
}

// dropIfEmpty removes the staging area when a failed Prepare left nothing in
// it worth resuming (only the lock, perhaps an empty stage/), so that an
// install that never reached the server leaves no trace beside Dest. Called
// with the lock held.
func (l layout) dropIfEmpty() {
	entries, err := l.fs.ReadDir(l.root)
	if err != nil {
		return
	}
	for _, e := range entries {
		switch e.Name() {
		case filepath.Base(l.lock):
		case filepath.Base(l.stage):
			if sub, err := l.fs.ReadDir(l.stage); err != nil || len(sub) > 0 {
				return
			}
		default:
			return
		}
	}
	_ = l.fs.RemoveAll(l.root) // best effort: a leftover empty area is harmless
}
