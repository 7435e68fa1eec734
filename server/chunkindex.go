package server

import (
	"fmt"
	"io"
	"os"

	"github.com/snapsync/snapsync/internal/digestkey"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// chunkRef is where a checkpoint holds a chunk: chunk j of file fi of its
// manifest. With its key, 16 bytes of map slot a chunk.
type chunkRef struct{ fi, j uint32 }

// indexChunks reads the chunk records of the manifest encoding at path, laid
// out as lay, into a map from each digest's key to its first place. A
// hard-link group's chunks are read once.
func indexChunks(path string, lay *layout, key digestkey.Key) (map[uint64]chunkRef, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("index chunks: %w", err)
	}
	defer f.Close() // read-only: nothing to lose
	idx := make(map[uint64]chunkRef)
	seen := make(map[int64]bool) // a group's records, by offset
	var buf []byte
	for fi := range lay.Files() {
		n, at := lay.Chunks(fi), lay.recs[fi]
		if n == 0 || seen[at] {
			continue
		}
		seen[at] = true
		buf = append(buf[:0], make([]byte, n*verify.ChunkRecordSize)...)
		if _, err := f.ReadAt(buf, at); err != nil {
			return nil, fmt.Errorf("index chunks of %q: %w", lay.path(fi), err)
		}
		for j := range n {
			c := verify.ParseChunk(buf[j*verify.ChunkRecordSize:])
			k := key.Of(&c.Digest)
			if _, dup := idx[k]; !dup {
				idx[k] = chunkRef{fi: uint32(fi), j: uint32(j)}
			}
		}
	}
	return idx, nil
}

// readVerified appends the n bytes at off of the file at path to buf, if
// they hash to d. The file is opened without following a symlink in its
// last component (durable.OpenNoFollow). A file gone, short or changed is
// ErrNoChunk: a miss, never wrong bytes.
func readVerified(path string, off int64, n int, d verify.Digest, buf []byte) ([]byte, error) {
	if n < 0 || n > verify.MaxChunkSize {
		return nil, fmt.Errorf("%w: %s: length %d", ErrNoChunk, d.Short(), n)
	}
	f, err := durable.OpenNoFollow(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoChunk, d.Short(), err)
	}
	defer f.Close() // read-only: nothing to lose
	return readAtVerified(f, off, n, d, buf)
}

// readAtVerified appends the n bytes at off of r to buf, if they hash to d.
func readAtVerified(r io.ReaderAt, off int64, n int, d verify.Digest, buf []byte) ([]byte, error) {
	start := len(buf)
	if cap(buf)-start < n {
		buf = append(buf, make([]byte, n)...)[:start]
	}
	data := buf[start : start+n]
	if _, err := r.ReadAt(data, off); err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoChunk, d.Short(), err)
	}
	if got := verify.Sum(data); got != d {
		return nil, fmt.Errorf("%w: %s: bytes at %d now hash to %s", ErrNoChunk, d.Short(), off, got.Short())
	}
	return buf[:start+n], nil
}
