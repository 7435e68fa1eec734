package repo

import (
	"context"
	"io"
	"iter"
	"time"
)

// Backend stores objects by key. Keys are slash-separated paths of the
// characters [A-Za-z0-9._-], none of whose elements starts with a dot; a
// Backend may refuse any other key. A Backend is safe for concurrent use.
type Backend interface {
	// Get opens the object at key; an absent key is an error matching
	// ErrNotFound.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Put stores exactly size bytes of r at key, replacing any object there.
	// It is atomic: a reader sees the old object or the new one, whole,
	// never a part.
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// List yields every key that starts with prefix, in no particular order.
	// It may yield names that are no valid key, or entries Get refuses (a
	// directory's symlink or FIFO): the caller reports them.
	List(ctx context.Context, prefix string) iter.Seq2[string, error]
	// Delete removes the object at key; an absent key is no error.
	Delete(ctx context.Context, key string) error
	// Stat returns the size and modification time (the backend's clock) of
	// the object at key; an absent key is an error matching ErrNotFound.
	Stat(ctx context.Context, key string) (size int64, modTime time.Time, err error)
}
