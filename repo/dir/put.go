package dir

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/snapsync/snapsync/internal/durable"
)

// Put writes exactly size bytes of r to a temporary file beside the file of
// key, fsyncs it, renames it over the file and fsyncs the directory. The
// temporary file's name is unique, so two puts of one key (two backups
// uploading one chunk) never write into each other's file.
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	p, err := b.path(key)
	if err != nil {
		return err
	}
	if err := b.mkdirs(filepath.Dir(p)); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), tmpPrefix+"*")
	if err != nil {
		return fmt.Errorf("dir: %w", err)
	}
	defer func() {
		if err != nil {
			// Best effort: the error to report is the first one, and a
			// leftover temporary file is never listed.
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := copyN(ctx, f, r, size); err != nil {
		return fmt.Errorf("dir: put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("dir: put %s: %w", key, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dir: put %s: %w", key, err)
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return fmt.Errorf("dir: put %s: %w", key, err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return fmt.Errorf("dir: put %s: %w", key, err)
	}
	return durable.SyncDir(filepath.Dir(p))
}

// copyN copies exactly n bytes of r to w, failing on fewer or more.
func copyN(ctx context.Context, w io.Writer, r io.Reader, n int64) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	got, err := io.Copy(w, io.LimitReader(r, n+1))
	switch {
	case err != nil:
		return err
	case got != n:
		return fmt.Errorf("read %d bytes, want %d", got, n)
	}
	return context.Cause(ctx)
}

// mkdirs creates dir and its missing parents below the root, syncing the
// parent of each directory it creates so the new entry survives a crash.
func (b *Backend) mkdirs(dir string) error {
	if dir == b.root {
		return nil
	}
	if _, err := os.Lstat(dir); err == nil {
		return nil
	}
	if err := b.mkdirs(filepath.Dir(dir)); err != nil {
		return err
	}
	if err := os.Mkdir(dir, 0o755); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("dir: %w", err)
	}
	return durable.SyncDir(filepath.Dir(dir))
}
