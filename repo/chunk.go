package repo

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/snapsync/snapsync/verify"
)

// PutChunk stores data as the chunk with digest d, compressed when that
// pays, unless the repository holds it already; it returns how many bytes it
// stored (0 for a chunk already present). It refuses data whose digest is not
// d, so a repository never holds a chunk under the wrong name.
// In format 2 the chunk goes into the open pack, uploaded once full; it is
// in the repository (GetChunk reads it) once Flush or Commit has written
// its pack and an index naming it.
func (r *Repo) PutChunk(ctx context.Context, d verify.Digest, data []byte) (int64, error) {
	if len(data) > verify.MaxChunkSize {
		return 0, fmt.Errorf("repo: chunk %s of %d bytes over the limit %d", d, len(data), verify.MaxChunkSize)
	}
	if err := verify.CheckDigest("chunk "+d.String(), d, verify.Sum(data)); err != nil {
		return 0, err
	}
	return r.PutVerified(ctx, d, data)
}

// PutVerified is PutChunk for bytes the caller has just hashed to d (a
// chunk its manifest build hashed, or one package client verified): it
// stores them without hashing them again. Bytes that are not d's would be
// stored under d, so only the code that computed or checked d calls it.
func (r *Repo) PutVerified(ctx context.Context, d verify.Digest, data []byte) (int64, error) {
	if len(data) > verify.MaxChunkSize {
		return 0, fmt.Errorf("repo: chunk %s of %d bytes over the limit %d", d, len(data), verify.MaxChunkSize)
	}
	if ok, err := r.HasChunk(ctx, d); err != nil || ok {
		return 0, err
	}
	if r.format >= Format2 {
		return r.putPacked(ctx, d, data)
	}
	stored := r.codec.encode(data, 0, 0)
	if err := r.putBytes(ctx, ChunkKey(d), stored); err != nil {
		return 0, err
	}
	return int64(len(stored)), nil
}

// putPacked adds chunk d's blob body to the open pack: its stored form,
// sealed in place in an encrypted repository (crypt.go).
func (r *Repo) putPacked(ctx context.Context, d verify.Digest, data []byte) (int64, error) {
	id := r.crypt.chunkID(d)
	buf := r.codec.encode(data, nonceSize, tagSize)
	enc := buf[nonceSize]
	body, err := r.crypt.sealBody(buf, id)
	if err != nil {
		return 0, err
	}
	added, err := r.packs.add(ctx, id, body, uint32(len(data)), enc)
	if err != nil || !added {
		return 0, err
	}
	return int64(len(body)), nil
}

// Flush stores the open pack and writes the index of every pack stored
// and not yet indexed (format 2; format 1 has nothing to flush). Commit
// flushes first.
func (r *Repo) Flush(ctx context.Context) error {
	if r.format < Format2 {
		return nil
	}
	return r.packs.flush(ctx)
}

// HasChunk reports whether the repository holds the chunk with digest d. It
// does not read the chunk: GetChunk and Verify do. In format 2 it asks the
// loaded index objects (and the packs this Repo has not indexed yet), not
// the backend. In format 1 an object that is no regular file (a FIFO, a
// symlink) is no chunk: PutChunk stores the chunk over it.
func (r *Repo) HasChunk(ctx context.Context, d verify.Digest) (bool, error) {
	if r.format >= Format2 {
		id := r.crypt.chunkID(d)
		if r.packs.has(id) {
			return true, nil
		}
		_, ok, err := r.lookup(ctx, id)
		return ok, err
	}
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
	if r.format >= Format2 {
		return r.getPacked(ctx, d, length)
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

// getPacked reads chunk d from its pack with one ranged read of its blob,
// verified (readBlob).
func (r *Repo) getPacked(ctx context.Context, d verify.Digest, length uint32) ([]byte, error) {
	loc, ok, err := r.lookup(ctx, r.crypt.chunkID(d))
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, r.notIndexed(ctx, d)
	}
	return r.readBlob(ctx, d, loc, length)
}

// notIndexed returns the error for a chunk d no index names: ErrNotFound,
// naming the index objects that do not verify, if any (it may be in one).
func (r *Repo) notIndexed(ctx context.Context, d verify.Digest) error {
	if ps, err := r.indexProblems(ctx); err == nil && len(ps) > 0 {
		return fmt.Errorf("repo: chunk %s: in no index that verifies (%s): %w", d, Summary(ps), ErrNotFound)
	}
	return fmt.Errorf("repo: chunk %s: in no index: %w", d, ErrNotFound)
}

// readBlob reads the blob of chunk d at loc and returns the chunk's raw
// bytes, verified (checkBlob). Damage is a *ChunkError; a pack that is not
// there ErrNotFound.
func (r *Repo) readBlob(ctx context.Context, d verify.Digest, loc location, length uint32) ([]byte, error) {
	if loc.raw != length {
		return nil, &ChunkError{Digest: d, Reason: fmt.Sprintf("indexed as %d bytes, want %d", loc.raw, length)}
	}
	blob, err := r.fetchBlob(ctx, d, loc)
	if err != nil {
		return nil, err
	}
	return r.checkBlob(d, loc, blob)
}

// fetchBlob reads the blob of chunk d at loc, unverified.
func (r *Repo) fetchBlob(ctx context.Context, d verify.Digest, loc location) ([]byte, error) {
	blob := make([]byte, blobHeaderSize+int(loc.stored))
	err := r.b.ReadAt(ctx, PackKey(loc.pack), blob, int64(loc.offset))
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return nil, &ChunkError{Digest: d, Reason: fmt.Sprintf("pack %s ends before the chunk's %d bytes at %d", loc.pack, len(blob), loc.offset)}
	case errors.Is(err, ErrNotFound):
		return nil, fmt.Errorf("repo: chunk %s: pack %s: %w", d, loc.pack, ErrNotFound)
	case err != nil:
		return nil, fmt.Errorf("repo: chunk %s: pack %s: %w", d, loc.pack, err)
	}
	return blob, nil
}

// checkBlob verifies blob, read from where loc says chunk d is: its header
// must repeat the index's length, its body open (an encrypted repository:
// decrypted in place, authenticated with the chunk's stored ID), its
// encoding be the index's, and its payload decode to loc.raw bytes of
// digest d. It returns the chunk.
func (r *Repo) checkBlob(d verify.Digest, loc location, blob []byte) ([]byte, error) {
	if n := binary.BigEndian.Uint32(blob); n != loc.stored {
		return nil, &ChunkError{Digest: d, Reason: fmt.Sprintf("blob of %d bytes in pack %s, indexed as %d", n, loc.pack, loc.stored)}
	}
	body, err := r.crypt.openBody(blob[blobHeaderSize:], r.crypt.chunkID(d))
	switch {
	case err != nil:
		return nil, &ChunkError{Digest: d, Reason: fmt.Sprintf("blob in pack %s at %d: %v", loc.pack, loc.offset, err)}
	case len(body) == 0:
		return nil, &ChunkError{Digest: d, Reason: fmt.Sprintf("empty blob in pack %s at %d", loc.pack, loc.offset)}
	case body[0] != loc.enc:
		return nil, &ChunkError{Digest: d, Reason: fmt.Sprintf("encoding %d in pack %s, indexed as %d", body[0], loc.pack, loc.enc)}
	}
	data, err := r.codec.decode(body, loc.raw)
	if err != nil {
		return nil, &ChunkError{Digest: d, Reason: err.Error()}
	}
	if got := verify.Sum(data); got != d {
		return nil, &ChunkError{Digest: d, Got: got}
	}
	return data, nil
}

// Locate returns where the stored bytes of chunk d are: the key of the
// object holding them and their offset and length there (format 1: the
// chunk's object, whole; format 2: its blob in a pack). For tests and
// tools that damage or inspect a repository on purpose.
func (r *Repo) Locate(ctx context.Context, d verify.Digest) (key string, off, n int64, err error) {
	if r.format < Format2 {
		size, _, err := r.b.Stat(ctx, ChunkKey(d))
		return ChunkKey(d), 0, size, err
	}
	loc, ok, err := r.lookup(ctx, r.crypt.chunkID(d))
	if err == nil && !ok {
		err = fmt.Errorf("repo: chunk %s: in no index: %w", d, ErrNotFound)
	}
	return PackKey(loc.pack), int64(loc.offset), blobHeaderSize + int64(loc.stored), err
}

// CountChunks returns how many distinct chunks the repository holds:
// format 1 its chunk objects, format 2 the chunks its index objects name.
func (r *Repo) CountChunks(ctx context.Context) (int, error) {
	if r.format >= Format2 {
		s := r.idx
		s.mu.Lock()
		defer s.mu.Unlock()
		if err := r.loadLocked(ctx); err != nil {
			return 0, err
		}
		return len(s.locs), nil
	}
	n := 0
	for _, err := range r.b.List(ctx, chunkPrefix) {
		if err != nil {
			return 0, fmt.Errorf("repo: list %s: %w", chunkPrefix, err)
		}
		n++
	}
	return n, nil
}
