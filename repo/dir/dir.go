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
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("dir: %s: %w", key, repo.ErrNotFound)
	}
	return fmt.Errorf("dir: %w", err)
}

// Get opens the file of key, refusing a symlink.
func (b *Backend) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	p, err := b.path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, context.Cause(ctx)
	}
	f, err := durable.OpenNoFollow(p, os.O_RDONLY, 0)
	if err != nil {
		return nil, notFound(key, err)
	}
	return f, nil
}

// Stat returns the size and modification time of the file of key.
func (b *Backend) Stat(ctx context.Context, key string) (int64, time.Time, error) {
	p, err := b.path(key)
	if err != nil {
		return 0, time.Time{}, err
	}
	fi, err := os.Lstat(p)
	if err != nil {
		return 0, time.Time{}, notFound(key, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, time.Time{}, fmt.Errorf("dir: %s: not a regular file", key)
	}
	return fi.Size(), fi.ModTime(), nil
}

// Delete removes the file of key and syncs its directory.
func (b *Backend) Delete(ctx context.Context, key string) error {
	p, err := b.path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	if err := durable.Remove(durable.OS(), p); err != nil {
		return fmt.Errorf("dir: %w", err)
	}
	return nil
}

// List yields the keys below the root that start with prefix, in lexical
// order, skipping temporary files.
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
			if !d.Type().IsRegular() {
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
