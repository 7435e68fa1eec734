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
	// Get opens the object at key; an absent key (also one below another
	// object) is an error matching ErrNotFound. Reads from the object fail
	// once ctx ends.
	Get(ctx context.Context, key string) (io.ReadCloser, error)
	// Put stores exactly size bytes of r at key, replacing any object there.
	// It is atomic: a reader sees the old object or the new one, whole,
	// never a part. An r that holds fewer or more than size bytes fails the
	// Put and leaves what was at key. Puts of one key at once all succeed,
	// one of them last (chunks are content-addressed: two backups may
	// upload one).
	Put(ctx context.Context, key string, r io.Reader, size int64) error
	// List yields every key that starts with prefix, in no particular order.
	// It may yield names that are no valid key, or entries Get refuses (a
	// directory's symlink or FIFO): the caller reports them.
	List(ctx context.Context, prefix string) iter.Seq2[string, error]
	// ReadAt reads len(p) bytes of the object at key, from offset off,
	// into p: a ranged read. An absent key is an error matching
	// ErrNotFound; an object that ends before off+len(p) one matching
	// io.ErrUnexpectedEOF, whatever p then holds.
	ReadAt(ctx context.Context, key string, p []byte, off int64) error
	// Delete removes the object at key; an absent key is no error.
	Delete(ctx context.Context, key string) error
	// Stat returns the size and modification time (the backend's clock) of
	// the object at key; an absent key is an error matching ErrNotFound.
	Stat(ctx context.Context, key string) (size int64, modTime time.Time, err error)
}
