package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// layout names the paths of an install: the destination and the entries of
// the staging area (see the package documentation).
type layout struct {
	dest     string
	root     string // the staging area
	stage    string
	prev     string
	state    string
	manifest string
	journal  string
	lock     string
	// fs carries the install's durable operations: state and journal
	// writes, renames, removals, links and syncs of the staging area.
	fs durable.StageFS
}

func newLayout(cfg *Config) layout {
	r := cfg.StagingDir
	fsys := cfg.fs
	if fsys == nil {
		fsys = durable.OS()
	}
	return layout{
		fs:       fsys,
		dest:     cfg.Dest,
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

// keptOld is where KeepOld keeps the replaced tree.
func (l layout) keptOld(unix int64) string {
	return l.dest + ".old-" + strconv.FormatInt(unix, 10)
}

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
func makeDirs(fsys durable.FS, root string, m *verify.Manifest) error {
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

func ensureDir(fsys durable.FS, p string) error {
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return fmt.Errorf("stat %s: %w", p, err)
	case fi.IsDir():
		return os.Chmod(p, 0o700|fi.Mode().Perm())
	default:
		if err := fsys.Remove(p); err != nil {
			return fmt.Errorf("remove %s in the way: %w", p, err)
		}
	}
	if err := os.Mkdir(p, 0o700); err != nil {
		return fmt.Errorf("mkdir %s: %w", p, err)
	}
	return nil
}

// lockArea creates the staging area if needed and takes its lock, which the
// returned function releases. Another holder: ErrBusy.
func lockArea(l layout) (unlock func(), err error) {
	// The destination may be new, below directories that do not exist yet.
	if err := os.MkdirAll(filepath.Dir(l.root), 0o755); err != nil {
		return nil, fmt.Errorf("create parent of staging area: %w", err)
	}
	if err := os.Mkdir(l.root, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("create staging area: %w", err)
	}
	if fi, err := os.Lstat(l.root); err != nil {
		return nil, fmt.Errorf("stat staging area: %w", err)
	} else if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrStaging, l.root)
	}
	c, err := durable.Lock(l.lock, 0o600)
	if errors.Is(err, durable.ErrLocked) {
		return nil, fmt.Errorf("%w: %s", ErrBusy, l.root)
	}
	if err != nil {
		return nil, err
	}
	return func() { _ = c.Close() /* closing releases the flock; nothing was written */ }, nil
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
// points to: durable.RemoveTree lists p's target, so a symlink (or any other
// non-directory) at p is removed as an entry instead. Nothing there: nothing
// to do.
func removeTree(ctx context.Context, fsys durable.FS, p string) error {
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("stat %s: %w", p, err)
	case fi.IsDir():
		return durable.RemoveTree(ctx, fsys, p)
	}
	return durable.Remove(fsys, p)
}

// dropIfEmpty removes the staging area when a failed Prepare left nothing in
// it worth resuming (only the lock, perhaps an empty stage/), so that an
// install that never reached the server leaves no trace beside Dest. Called
// with the lock held.
func (l layout) dropIfEmpty() {
	entries, err := os.ReadDir(l.root)
	if err != nil {
		return
	}
	for _, e := range entries {
		switch e.Name() {
		case filepath.Base(l.lock):
		case filepath.Base(l.stage):
			if sub, err := os.ReadDir(l.stage); err != nil || len(sub) > 0 {
				return
			}
		default:
			return
		}
	}
	_ = l.fs.RemoveAll(l.root) // best effort: a leftover empty area is harmless
}
