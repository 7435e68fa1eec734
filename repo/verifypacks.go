package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"sync"

	"github.com/snapsync/snapsync/verify"
)

// readPacked (format 2) reads every chunk of lengths pack by pack: one
// streamed read of each pack (a GET on S3, not one per chunk), its blobs
// verified in offset order as they pass, the gaps between them skipped.
// It returns the error of each chunk that is missing or does not verify,
// and adds the bytes read to *total. Its own error is for ctx ending or a
// backend that fails otherwise.
func (r *Repo) readPacked(ctx context.Context, lengths map[verify.Digest]uint32, total *int64) (map[verify.Digest]error, error) {
	bad := make(map[verify.Digest]error)
	byPack := make(map[verify.Digest][]indexEntry)
	for d, n := range lengths {
		loc, ok, err := r.lookup(ctx, r.crypt.chunkID(d))
		switch {
		case err != nil:
			return nil, err
		case !ok:
			bad[d] = r.notIndexed(ctx, d)
		case loc.raw != n:
			bad[d] = &ChunkError{Digest: d, Reason: fmt.Sprintf("indexed as %d bytes, want %d", loc.raw, n)}
		default:
			byPack[loc.pack] = append(byPack[loc.pack], indexEntry{digest: d, location: loc})
		}
	}
	var mu sync.Mutex
	packs := slices.SortedFunc(maps.Keys(byPack), func(a, b verify.Digest) int { return bytes.Compare(a[:], b[:]) })
	err := r.forEach(ctx, packs, func(ctx context.Context, id verify.Digest) error {
		errs, n, err := r.readPack(ctx, id, byPack[id])
		mu.Lock()
		defer mu.Unlock()
		maps.Copy(bad, errs)
		*total += n
		if err != nil {
			return fmt.Errorf("repo: verify: %w", err)
		}
		return nil
	})
	return bad, err
}

// readPack reads the chunks entries of pack id in one stream and returns
// the error of each that does not verify and the bytes of those that do. A
// pack missing, or not a regular file, is every chunk's error; one that ends
// early, the error of each chunk past its end.
func (r *Repo) readPack(ctx context.Context, id verify.Digest, entries []indexEntry) (map[verify.Digest]error, int64, error) {
	bad := make(map[verify.Digest]error)
	rc, err := r.b.Get(ctx, PackKey(id))
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) {
		for _, e := range entries {
			bad[e.digest] = fmt.Errorf("repo: chunk %s: pack %s: %w", e.digest, id, err)
		}
		return bad, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	defer rc.Close() // read-only: nothing to lose
	slices.SortFunc(entries, func(a, b indexEntry) int { return int(int64(a.offset) - int64(b.offset)) })
	var pos, n int64
	var buf []byte
	for i, e := range entries {
		if int64(e.offset) < pos {
			// Blobs that overlap (an index no backup wrote): read apart.
			data, err := r.readBlob(ctx, e.digest, e.location, e.raw)
			n += record(bad, e.digest, data, err)
			continue
		}
		buf = slices.Grow(buf[:0], blobHeaderSize+int(e.stored))[:blobHeaderSize+int(e.stored)]
		if _, err := io.CopyN(io.Discard, rc, int64(e.offset)-pos); err == nil {
			_, err = io.ReadFull(rc, buf)
		}
		switch {
		case errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF):
			for _, e := range entries[i:] {
				bad[e.digest] = &ChunkError{Digest: e.digest, Reason: fmt.Sprintf("pack %s ends before the chunk's %d bytes at %d", id, blobHeaderSize+e.stored, e.offset)}
			}
			return bad, n, nil
		case err != nil:
			return bad, n, fmt.Errorf("pack %s: %w", id, err)
		}
		pos = e.end()
		data, err := r.checkBlob(e.digest, e.location, buf)
		n += record(bad, e.digest, data, err)
	}
	return bad, n, nil
}

// record adds err, if any, as chunk d's and returns the bytes of data.
func record(bad map[verify.Digest]error, d verify.Digest, data []byte, err error) int64 {
	if err != nil {
		bad[d] = err
		return 0
	}
	return int64(len(data))
}
