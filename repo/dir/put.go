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

// Put writes exactly size bytes of r to the file of key with
// durable.WriteStream: into a temporary file beside it, fsynced, renamed over
// it, the directory fsynced. The temporary file's name is unique, so two puts
// of one key (two backups uploading one chunk) never write into each other's
// file.
func (b *Backend) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	p, err := b.path(key)
	if err != nil {
		return err
	}
	if err := b.mkdirs(filepath.Dir(p)); err != nil {
		return err
	}
	err = durable.WriteStream(p, tmpPrefix, 0o644, func(w io.Writer) error { return copyN(ctx, w, r, size) })
	if err != nil {
		return fmt.Errorf("dir: put %s: %w", key, err)
	}
	return nil
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
