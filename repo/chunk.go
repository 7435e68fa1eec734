package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/snapsync/snapsync/verify"
)

// PutChunk stores data as the chunk with digest d, compressed when that
// pays, unless the repository holds it already; it returns how many bytes it
// stored (0 for a chunk already present). It refuses data whose digest is not
// d, so a repository never holds a chunk under the wrong name.
func (r *Repo) PutChunk(ctx context.Context, d verify.Digest, data []byte) (int64, error) {
	if len(data) > verify.MaxChunkSize {
		return 0, fmt.Errorf("repo: chunk %s of %d bytes over the limit %d", d, len(data), verify.MaxChunkSize)
	}
	if err := verify.CheckDigest("chunk "+d.String(), d, verify.Sum(data)); err != nil {
		return 0, err
	}
	if ok, err := r.HasChunk(ctx, d); err != nil || ok {
		return 0, err
	}
	stored := r.codec.encode(data)
	if err := r.putBytes(ctx, ChunkKey(d), stored); err != nil {
		return 0, err
	}
	return int64(len(stored)), nil
}

// HasChunk reports whether the repository holds the chunk with digest d. It
// does not read the chunk: GetChunk and Verify do. An object that is no
// regular file (a FIFO, a symlink) is no chunk: PutChunk stores the chunk
// over it.
func (r *Repo) HasChunk(ctx context.Context, d verify.Digest) (bool, error) {
	_, _, err := r.b.Stat(ctx, ChunkKey(d))
	var nr *NotRegularError
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, ErrNotFound), errors.As(err, &nr):
		return false, nil
	}
	return false, fmt.Errorf("repo: stat chunk %s: %w", d, err)
}

// GetChunk returns the raw bytes of the chunk with digest d, which must be
// length bytes long, verified: bytes that do not decode to length bytes or
// do not hash to d are a *ChunkError. Memory is bounded by length, at most
// verify.MaxChunkSize, whatever the stored object holds.
func (r *Repo) GetChunk(ctx context.Context, d verify.Digest, length uint32) ([]byte, error) {
	if length > verify.MaxChunkSize {
		return nil, fmt.Errorf("repo: chunk %s: length %d over the limit %d", d, length, verify.MaxChunkSize)
	}
	// A stored chunk is at most its length plus the encoding byte; one more
	// byte read tells a longer object from one that fits.
	stored, err := r.getSmall(ctx, ChunkKey(d), int64(length)+1)
	if tl := (*tooLongError)(nil); errors.As(err, &tl) {
		return nil, &ChunkError{Digest: d, Reason: "stored object longer than the chunk"}
	}
	if err != nil {
		return nil, fmt.Errorf("repo: chunk %s: %w", d, err)
	}
	data, err := r.codec.decode(stored, length)
	if err != nil {
		return nil, &ChunkError{Digest: d, Reason: err.Error()}
	}
	if got := verify.Sum(data); got != d {
		return nil, &ChunkError{Digest: d, Got: got}
	}
	return data, nil
}
