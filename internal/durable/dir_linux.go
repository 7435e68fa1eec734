//go:build linux

package durable

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"

	"golang.org/x/sys/unix"
)

// Dir is an open directory handle below which every operation resolves its
// relative path without following any symlink and without leaving the
// directory: with openat2(RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS) where the
// kernel has it (5.6 and later), else by opening one component at a time with
// openat(O_NOFOLLOW). Each operation then acts on the last component relative
// to its parent's handle (mkdirat, renameat, linkat, unlinkat, statx), so no
// component can be swapped for a symlink under it: a swap makes the operation
// fail (ELOOP, ENOTDIR), never act elsewhere. Relative paths are
// slash-separated, local (no "..", not absolute); "." is the directory itself.
type Dir struct {
	f    *os.File
	path string // the absolute path it was opened at: names in errors and logs
}

// OpenDir opens the directory at path, which the caller trusts as named (a
// configured path: its components may be symlinks), and returns its handle.
func OpenDir(path string) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	f, err := os.OpenFile(abs, os.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	return &Dir{f: f, path: abs}, nil
}

// Path returns the absolute path d was opened at (or found at below another
// Dir); the handle, not the path, is what operations use.
func (d *Dir) Path() string { return d.path }

// Close releases the handle.
func (d *Dir) Close() error { return d.f.Close() }

// Sync fsyncs the directory, making its entries durable.
func (d *Dir) Sync() error { return d.f.Sync() }

func (d *Dir) fd() int { return int(d.f.Fd()) }

func (d *Dir) name(rel string) string { return filepath.Join(d.path, filepath.FromSlash(rel)) }

// openat2Missing is set once openat2 reported ENOSYS; forceWalk makes the
// tests take the component walk.
var (
	openat2Missing atomic.Bool
	forceWalk      atomic.Bool
)

// errEscape reports a relative path that is absolute or climbs out with "..".
var errEscape = errors.New("path escapes its directory")

// cleanRel checks and cleans rel.
func cleanRel(rel string) (string, error) {
	c := filepath.Clean(filepath.FromSlash(rel))
	if c != "." && !filepath.IsLocal(c) {
		return "", errEscape
	}
	return c, nil
}

// openBeneath opens rel below dirfd with flags, following no symlink in any
// component, the last included.
func openBeneath(dirfd int, rel string, flags int, perm uint32) (int, error) {
	flags |= unix.O_NOFOLLOW | unix.O_CLOEXEC
	if flags&(unix.O_CREAT|unix.O_TMPFILE) == 0 {
		perm = 0 // openat2 refuses a mode it would not use
	}
	if !openat2Missing.Load() && !forceWalk.Load() {
		for {
			fd, err := unix.Openat2(dirfd, rel, &unix.OpenHow{Flags: uint64(flags), Mode: uint64(perm),
				Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS})
			switch {
			case errors.Is(err, unix.EINTR), errors.Is(err, unix.EAGAIN):
				continue
			case errors.Is(err, unix.ENOSYS):
				openat2Missing.Store(true) // kernels before 5.6: walk instead, from now on
			default:
				return fd, err
			}
			break
		}
	}
	return openWalk(dirfd, rel, flags, perm)
}

// openWalk opens rel below dirfd one component at a time, each directory
// with O_NOFOLLOW|O_DIRECTORY and the last with flags (O_NOFOLLOW included).
func openWalk(dirfd int, rel string, flags int, perm uint32) (int, error) {
	parts := strings.Split(rel, "/")
	cur := dirfd
	closeCur := func() {
		if cur != dirfd {
			_ = unix.Close(cur) // read-only directory handle
		}
	}
	defer closeCur()
	for _, p := range parts[:len(parts)-1] {
		if p == ".." {
			return -1, unix.EXDEV
		}
		next, err := openat(cur, p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
		if err != nil {
			return -1, err
		}
		closeCur()
		cur = next
	}
	last := parts[len(parts)-1]
	if last == ".." {
		return -1, unix.EXDEV
	}
	return openat(cur, last, flags, perm)
}

func openat(dirfd int, name string, flags int, perm uint32) (int, error) {
	for {
		fd, err := unix.Openat(dirfd, name, flags, perm)
		if !errors.Is(err, unix.EINTR) {
			return fd, err
		}
	}
}

// at resolves rel to its parent's handle and its last component, and calls
// do with them; the parent's handle is closed after.
func (d *Dir) at(rel string, do func(dirfd int, base string) error) error {
	c, err := cleanRel(rel)
	if err != nil {
		return err
	}
	if c == "." {
		return unix.EINVAL // an operation on the directory itself has its own method
	}
	dir, base := filepath.Split(c)
	if dir == "" {
		return do(d.fd(), base)
	}
	pfd, err := openBeneath(d.fd(), strings.TrimSuffix(dir, "/"), unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	defer unix.Close(pfd) //nolint:errcheck // a read-only directory handle
	return do(pfd, base)
}

func pathErr(op, path string, err error) error {
	if err == nil {
		return nil
	}
	return &fs.PathError{Op: op, Path: path, Err: err}
}

// OpenFile opens rel like os.OpenFile, following no symlink.
func (d *Dir) OpenFile(rel string, flag int, perm fs.FileMode) (*os.File, error) {
	c, err := cleanRel(rel)
	if err != nil {
		return nil, pathErr("open", d.name(rel), err)
	}
	fd, err := openBeneath(d.fd(), filepath.ToSlash(c), flag, uint32(perm.Perm()))
	if err != nil {
		return nil, pathErr("open", d.name(rel), err)
	}
	return os.NewFile(uintptr(fd), d.name(c)), nil
}

// OpenDir opens the directory rel below d ("." for a second handle of d).
func (d *Dir) OpenDir(rel string) (*Dir, error) {
	f, err := d.OpenFile(rel, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	return &Dir{f: f, path: f.Name()}, nil
}

// ReadFile returns the content of the file rel.
func (d *Dir) ReadFile(rel string) ([]byte, error) {
	f, err := d.OpenFile(rel, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(f)
}

// WriteFile creates or truncates the file rel with perm, writes data and
// fsyncs it. It is not atomic: see the package's WriteFile.
func (d *Dir) WriteFile(rel string, data []byte, perm fs.FileMode) error {
	f, err := d.OpenFile(rel, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	serr := f.Sync()
	cerr := f.Close()
	return errors.Join(werr, serr, cerr)
}

// Mkdir creates the directory rel with perm (less the umask).
func (d *Dir) Mkdir(rel string, perm fs.FileMode) error {
	return pathErr("mkdir", d.name(rel), d.at(rel, func(fd int, base string) error {
		return unix.Mkdirat(fd, base, uint32(perm.Perm()))
	}))
}

// Chmod sets the permission bits of rel, never following a symlink: it
// opens rel (O_NOFOLLOW, non-blocking) and changes the mode of what it opened.
func (d *Dir) Chmod(rel string, mode fs.FileMode) error {
	f, err := d.OpenFile(rel, os.O_RDONLY|unix.O_NONBLOCK, 0)
	if err != nil {
		return &fs.PathError{Op: "chmod", Path: d.name(rel), Err: errors.Unwrap(err)}
	}
	defer f.Close()
	return f.Chmod(mode.Perm())
}

// Lstat describes rel ("." for d itself) without following a symlink.
func (d *Dir) Lstat(rel string) (Info, error) {
	c, err := cleanRel(rel)
	if err != nil {
		return Info{}, pathErr("lstat", d.name(rel), err)
	}
	if c == "." {
		return statAt(d.fd(), "", unix.AT_EMPTY_PATH, d.path)
	}
	var info Info
	err = d.at(c, func(fd int, base string) error {
		var err error
		info, err = statAt(fd, base, unix.AT_SYMLINK_NOFOLLOW, d.name(c))
		return err
	})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return Info{}, err
		}
		return Info{}, pathErr("lstat", d.name(rel), err)
	}
	return info, nil
}

// statAt describes name below fd with statx, or fstatat before Linux 4.11.
func statAt(fd int, name string, flags int, path string) (Info, error) {
	var st unix.Statx_t
	err := unix.Statx(fd, name, flags, unix.STATX_BASIC_STATS|unix.STATX_BTIME, &st)
	if errors.Is(err, unix.ENOSYS) {
		var s unix.Stat_t
		if err := unix.Fstatat(fd, name, &s, flags); err != nil {
			return Info{}, pathErr("lstat", path, err)
		}
		return Info{ID: FileID{Dev: s.Dev, Ino: s.Ino}, Mode: fileMode(s.Mode), Size: s.Size,
			Uid: s.Uid, Nlink: uint64(s.Nlink), Mtime: s.Mtim.Sec*1e9 + int64(s.Mtim.Nsec)}, nil
	}
	if err != nil {
		return Info{}, pathErr("lstat", path, err)
	}
	return infoOf(&st), nil
}

// ReadDir lists the directory rel, sorted by name. The entries' Info
// methods resolve by path: use Lstat for what matters.
func (d *Dir) ReadDir(rel string) ([]fs.DirEntry, error) {
	f, err := d.OpenFile(rel, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	entries, err := f.ReadDir(-1)
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, err
}

// ReadDirInfo lists the directory rel, sorted by name, and describes each
// entry with statx relative to the open directory (no symlink followed, no
// path resolved again per entry). An entry removed between the listing and
// its statx is left out.
func (d *Dir) ReadDirInfo(rel string) ([]DirInfo, error) {
	f, err := d.OpenFile(rel, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(names)
	out := make([]DirInfo, 0, len(names))
	fd := int(f.Fd())
	for _, n := range names {
		info, err := statAt(fd, n, unix.AT_SYMLINK_NOFOLLOW, filepath.Join(f.Name(), n))
		if errors.Is(err, unix.ENOENT) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, DirInfo{Name: n, Info: info})
	}
	return out, nil
}

// Rename renames oldrel below d to newrel below nd, replacing a file there.
func (d *Dir) Rename(oldrel string, nd *Dir, newrel string) error {
	return d.two("rename", oldrel, nd, newrel, func(ofd int, ob string, nfd int, nb string) error {
		return unix.Renameat(ofd, ob, nfd, nb)
	})
}

// Exchange atomically swaps a below d and b below nd with
// renameat2(RENAME_EXCHANGE); EINVAL or ENOSYS: an error wrapping
// ErrExchangeUnsupported, nothing changed.
func (d *Dir) Exchange(a string, nd *Dir, b string) error {
	err := d.two("exchange", a, nd, b, func(afd int, ab string, bfd int, bb string) error {
		return unix.Renameat2(afd, ab, bfd, bb, unix.RENAME_EXCHANGE)
	})
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		return fmt.Errorf("%w: %w", ErrExchangeUnsupported, err)
	}
	return err
}

// Link makes newrel below nd a hard link of oldrel below d (never of what a
// symlink at oldrel points to).
func (d *Dir) Link(oldrel string, nd *Dir, newrel string) error {
	return d.two("link", oldrel, nd, newrel, func(ofd int, ob string, nfd int, nb string) error {
		return unix.Linkat(ofd, ob, nfd, nb, 0)
	})
}

func (d *Dir) two(op, oldrel string, nd *Dir, newrel string, do func(int, string, int, string) error) error {
	err := d.at(oldrel, func(ofd int, ob string) error {
		return nd.at(newrel, func(nfd int, nb string) error { return do(ofd, ob, nfd, nb) })
	})
	if err != nil {
		return &os.LinkError{Op: op, Old: d.name(oldrel), New: nd.name(newrel), Err: err}
	}
	return nil
}

// Remove removes the file or empty directory rel.
func (d *Dir) Remove(rel string) error {
	return pathErr("remove", d.name(rel), d.at(rel, unlinkAt))
}

func unlinkAt(fd int, base string) error {
	err := unix.Unlinkat(fd, base, 0)
	if errors.Is(err, unix.EISDIR) || errors.Is(err, unix.EPERM) {
		if derr := unix.Unlinkat(fd, base, unix.AT_REMOVEDIR); derr == nil || !errors.Is(derr, unix.ENOTDIR) {
			return derr
		}
	}
	return err
}

// RemoveAll removes rel and everything below it, descending through
// directory handles opened with O_NOFOLLOW: a symlink is removed, never
// followed. A missing rel is no error.
func (d *Dir) RemoveAll(rel string) error {
	err := d.at(rel, removeAllAt)
	if errors.Is(err, unix.ENOENT) {
		return nil
	}
	return pathErr("remove-all", d.name(rel), err)
}

func removeAllAt(fd int, base string) error {
	err := unlinkAt(fd, base)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.ENOTEMPTY) && !errors.Is(err, unix.EEXIST) {
		return err
	}
	cfd, err := openat(fd, base, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(cfd), base)
	names, err := f.Readdirnames(-1)
	if err == nil {
		for _, n := range names {
			if err = removeAllAt(cfd, n); err != nil {
				break
			}
		}
	}
	_ = f.Close() // a read-only directory handle
	if err != nil {
		return err
	}
	return unix.Unlinkat(fd, base, unix.AT_REMOVEDIR)
}

// SyncDir fsyncs the directory rel ("." for d itself).
func (d *Dir) SyncDir(rel string) error {
	if c, err := cleanRel(rel); err == nil && c == "." {
		return pathErr("sync-dir", d.path, d.Sync())
	}
	f, err := d.OpenFile(rel, os.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return err
	}
	serr := f.Sync()
	cerr := f.Close()
	if err := errors.Join(serr, cerr); err != nil {
		return fmt.Errorf("sync dir %s: %w", f.Name(), err)
	}
	return nil
}
