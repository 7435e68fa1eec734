package dir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/repo"
)

// tmpPrefix starts the name of a file being written; List skips it and no
// key may name it.
const tmpPrefix = ".tmp-"

// Backend stores objects as files below a root directory.
type Backend struct{ root string }

var _ repo.Backend = (*Backend)(nil)

// New returns a Backend on root, creating the directory if needed.
func New(root string) (*Backend, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	return &Backend{root: abs}, nil
}

// Open returns a Backend on the existing directory root (which may be a
// symlink to one). It creates nothing: a root that does not exist, or is no
// directory, is a *repo.NoRepositoryError.
func Open(root string) (*Backend, error) {
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	fi, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &repo.NoRepositoryError{Reason: abs + " does not exist"}
	case err != nil:
		return nil, fmt.Errorf("dir: %w", err)
	case !fi.IsDir():
		return nil, &repo.NoRepositoryError{Reason: abs + " is " + kindOf(fi.Mode()) + ", not a directory"}
	}
	return &Backend{root: abs}, nil
}

// Root returns the backend's directory.
func (b *Backend) Root() string { return b.root }

// path returns the file of key.
func (b *Backend) path(key string) (string, error) {
	if !repo.ValidKey(key) {
		return "", fmt.Errorf("dir: %w: %q", repo.ErrBadKey, key)
	}
	return filepath.Join(b.root, filepath.FromSlash(key)), nil
}

// notFound maps a missing file to repo.ErrNotFound.
func notFound(key string, err error) error {
	if absent(err) {
		return fmt.Errorf("dir: %s: %w", key, repo.ErrNotFound)
	}
	return fmt.Errorf("dir: %w", err)
}

// absent reports whether err says a path does not exist: no such file, or
// one of its parents is a file (ENOTDIR), where no key can be either.
func absent(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// Get opens the file of key for reading. Only a regular file is opened: a
// symlink, a FIFO, a device, a socket or a directory in its place is a
// *repo.NotRegularError, refused without reading (a FIFO would block the
// reader for good, a device never end). Reads end once ctx does.
func (b *Backend) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	// Refuse what is no regular file before opening it (opening a device
	// may act on it), then again on the descriptor, in case the file was
	// swapped in between. O_NONBLOCK keeps a FIFO swapped in from blocking
	// the open; it changes nothing for a regular file.
	if _, err := b.lstat(key, p); err != nil {
		return nil, err
	}
	f, err := durable.OpenNoFollow(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if errors.Is(err, syscall.ELOOP) {
		return nil, &repo.NotRegularError{Key: key, Kind: "a symlink"}
	}
	if err != nil {
		return nil, notFound(key, err)
	}
	fi, err := f.Stat()
	if err == nil {
		err = regular(key, fi.Mode())
	}
	if err != nil {
		_ = f.Close() // read-only: nothing to lose; the error to report is err
		return nil, err
	}
	return &reader{ctx: ctx, f: f}, nil
}

// reader reads an open file until ctx ends.
type reader struct {
	ctx context.Context
	f   *os.File
}

func (r *reader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, context.Cause(r.ctx)
	}
	return r.f.Read(p)
}

func (r *reader) Close() error { return r.f.Close() }

// Stat returns the size and modification time of the file of key, which
// must be a regular file (see Get).
func (b *Backend) Stat(ctx context.Context, key string) (int64, time.Time, error) {
	p, err := b.path(key)
	if err != nil {
		return 0, time.Time{}, err
	}
	fi, err := b.lstat(key, p)
	if err != nil {
		return 0, time.Time{}, err
	}
	return fi.Size(), fi.ModTime(), nil
}

// lstat returns the FileInfo of the file of key at p, refusing anything but
// a regular file.
func (b *Backend) lstat(key, p string) (fs.FileInfo, error) {
	fi, err := os.Lstat(p)
	if err != nil {
		return nil, notFound(key, err)
	}
	if err := regular(key, fi.Mode()); err != nil {
		return nil, err
	}
	return fi, nil
}

// regular returns a *repo.NotRegularError for a mode that is not a regular
// file's.
func regular(key string, m fs.FileMode) error {
	if m.IsRegular() {
		return nil
	}
	return &repo.NotRegularError{Key: key, Kind: kindOf(m)}
}

// kindOf names the type of a file that is not regular, as errors say it.
func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	}
	return "a file of type " + m.Type().String()
}

// Delete removes the file of key and syncs its directory. An absent key is
// no error, also when its directory does not exist.
func (b *Backend) Delete(ctx context.Context, key string) error {
	p, err := b.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if err := durable.Remove(durable.OS(), p); err != nil && !absent(err) {
		return fmt.Errorf("dir: %w", err)
	}
	return nil
}

// List yields the keys below the root that start with prefix, in lexical
// order: every file but a directory, a symlink, a FIFO or a device included,
// so the caller sees (and reports) what it cannot read. Names that start with
// a dot are skipped, files and directories: temporary files are ours, the
// others the filesystem's (NFS's .nfs files, a .snapshot directory), and no
// key starts with a dot.
func (b *Backend) List(ctx context.Context, prefix string) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		// Walk from the deepest directory the prefix names whole.
		start := b.root
		if i := strings.LastIndex(prefix, "/"); i >= 0 {
			if !repo.ValidKey(prefix[:i]) {
				return // no key starts with it
			}
			start = filepath.Join(b.root, filepath.FromSlash(prefix[:i]))
		}
		err := filepath.WalkDir(start, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					return nil
				}
				return err
			}
			if err := ctx.Err(); err != nil {
				return context.Cause(ctx)
			}
			if strings.HasPrefix(d.Name(), ".") && p != start {
				if d.IsDir() {
					return filepath.SkipDir
				}
				return nil
			}
			if d.IsDir() {
				return nil
			}
			rel, err := filepath.Rel(b.root, p)
			if err != nil {
				return err
			}
			if key := filepath.ToSlash(rel); strings.HasPrefix(key, prefix) && !yield(key, nil) {
				return errStop
			}
			return nil
		})
		if err != nil && !errors.Is(err, errStop) {
			yield("", fmt.Errorf("dir: list %s: %w", prefix, err))
		}
	}
}

var errStop = errors.New("stop")

// ReadAt reads len(p) bytes of the file of key from offset off with pread,
// refusing what is no regular file as Get does.
func (b *Backend) ReadAt(ctx context.Context, key string, p []byte, off int64) error {
	rc, err := b.Get(ctx, key)
	if err != nil {
		return err
	}
	f := rc.(*reader).f
	defer f.Close() // read-only: nothing to lose
	if off < 0 {
		return fmt.Errorf("dir: read %s at %d: negative offset", key, off)
	}
	n, err := f.ReadAt(p, off)
	switch {
	case n == len(p):
		return nil
	case err == nil || errors.Is(err, io.EOF):
		return fmt.Errorf("dir: read %s: %d bytes at %d, want %d: %w", key, n, off, len(p), io.ErrUnexpectedEOF)
	}
	return fmt.Errorf("dir: read %s: %w", key, err)
}
