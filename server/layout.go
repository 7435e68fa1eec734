package server

import (
	"fmt"
	"io"

	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/verify"
)

// layout is what the server keeps in memory of a manifest it serves: per
// file only its path (in a table), the stat it was built from (which holds
// its size, so its chunk count and every chunk's offset and length follow)
// and where its chunk records sit in the persisted encoding, from which
// digests are read when a chunk is served. The encoding itself stays on
// disk (ID.manifest), so memory is flat in the number of chunks and about
// 80 bytes a file (docs/DESIGN.md invariant 5).
type layout struct {
	meta      verify.Meta
	chunkSize uint32
	encSize   int64 // bytes of the canonical encoding
	total     int64 // bytes of data, each hard-link group once
	paths     pathTable
	stats     column[digestcache.Key]
	recs      []int64 // offset in the encoding of file i's first chunk record (its group's first entry's)
}

var _ Shape = (*layout)(nil)

func (l *layout) Meta() verify.Meta    { return l.meta }
func (l *layout) ChunkSize() uint32    { return l.chunkSize }
func (l *layout) Files() int           { return l.paths.len() }
func (l *layout) TotalBytes() int64    { return l.total }
func (l *layout) Chunks(fi int) int    { return int(verify.ChunkCount(l.stats.at(fi).Size, l.chunkSize)) }
func (l *layout) path(fi int) string   { return l.paths.at(fi) }
func (l *layout) size(fi int) int64    { return l.stats.at(fi).Size }
func (l *layout) length(fi, j int) int { return int(verify.ChunkLength(l.size(fi), l.chunkSize, j)) }

// digest reads the digest of chunk j of file fi from the encoding in r,
// checking the length recorded beside it.
func (l *layout) digest(r io.ReaderAt, fi, j int) (verify.Digest, error) {
	var rec [verify.ChunkRecordSize]byte
	off := l.recs[fi] + int64(j)*verify.ChunkRecordSize
	if _, err := r.ReadAt(rec[:], off); err != nil {
		return verify.Digest{}, fmt.Errorf("read digest of chunk %d of %q at %d: %w", j, l.path(fi), off, err)
	}
	c := verify.ParseChunk(rec[:])
	if int(c.Length) != l.length(fi, j) {
		return verify.Digest{}, fmt.Errorf("%w: manifest records chunk %d of %q as %d bytes, want %d", ErrDataLoss, j, l.path(fi), c.Length, l.length(fi, j))
	}
	return c.Digest, nil
}

// place sets where each file's chunk records sit in the encoding (after a
// head of headLen bytes; link gives each file's group's first entry, or -1),
// the encoding's size and the data's, checking the manifest limits that
// the sizes alone decide.
func (l *layout) place(headLen int, link func(i int) int) error {
	n := l.Files()
	if n > verify.MaxFiles {
		return fmt.Errorf("%w: %d files, at most %d", verify.ErrTooLarge, n, verify.MaxFiles)
	}
	l.recs = make([]int64, n)
	off, chunks := int64(headLen), int64(0)
	for i := range n {
		pathLen := len(l.path(i))
		if to := link(i); to >= 0 {
			l.recs[i] = l.recs[to]
			off += int64(verify.FileHeadSize(pathLen, true))
			continue
		}
		size := l.size(i)
		if size > verify.MaxFileSize {
			return fmt.Errorf("%w: file %q size %d, at most %d", verify.ErrTooLarge, l.path(i), size, int64(verify.MaxFileSize))
		}
		c := verify.ChunkCount(size, l.chunkSize)
		if chunks += c; chunks > verify.MaxTotalChunks {
			return fmt.Errorf("%w: more than %d chunks", verify.ErrTooLarge, verify.MaxTotalChunks)
		}
		off += int64(verify.FileHeadSize(pathLen, false))
		l.recs[i] = off
		off += c * verify.ChunkRecordSize
		l.total += size
	}
	if off > verify.MaxManifestSize {
		return fmt.Errorf("%w: manifest encoding of %d bytes", verify.ErrTooLarge, off)
	}
	l.encSize = off
	return nil
}
