package swap

import (
	"context"

	"github.com/snapsync/snapsync/internal/durable"
)

// SyncTree fsyncs every directory of the tree at root, deepest first, then
// root's parent, so that every entry of the tree, root's own included, is
// durable. Files are the caller's to fsync; symlinks are not followed.
func SyncTree(ctx context.Context, root string) error {
	return durable.SyncTree(ctx, durable.OS(), root)
}

// RemoveTree removes the tree at path, entry by entry of its top directory so
// that a cancelled context stops it between entries, then fsyncs its parent.
// A missing path is no error; a symlink at path is removed, not followed.
func RemoveTree(ctx context.Context, path string) error {
	return durable.RemoveTree(ctx, durable.OS(), path)
}
