package verify

import (
	"fmt"
	"io"
	"io/fs"
	"math"
	"path"
)

// Scan reads a canonical encoding of exactly size bytes from r and accepts
// exactly what DecodeReader accepts, but hands each file to visit in order
// instead of keeping it, so memory holds the dirs and a dozen bytes a file,
// not the files' chunk lists. It returns the manifest's Meta, ChunkSize and
// Dirs (no Files). visit gets a File whose Chunks is nil (Scan checks each
// chunk's length and skips its digest; ChunkCount gives their number) and
// which it must not keep; a link's Size and Mode are its group's. An error
// from visit ends the scan. The caller checks the encoding's digest.
func Scan(r io.Reader, size int64, visit func(i int, f *File) error) (*Manifest, error) {
	return ScanAt(r, size, func(i, _ int, f *File, _ int64) error { return visit(i, f) })
}

// ScanAt is Scan, handing visit also the number of files n and the offset
// in the encoding of a full entry's first chunk record (its chunk j's
// record is ChunkRecordSize*j bytes further; a link's offset is -1): a
// reader that keeps the encoding can read a file's chunk list back from it
// on demand (ParseChunk) instead of holding every list.
func ScanAt(r io.Reader, size int64, visit func(i, n int, f *File, chunksAt int64) error) (*Manifest, error) {
	d, m, err := readHead(r, size)
	if err != nil {
		return nil, err
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := m.Validate(); err != nil { // header and dirs: no files yet
		return nil, err
	}
	s := scanner{d: d, m: m, size: size, dirs: make(map[string]bool, len(m.Dirs))}
	for _, dir := range m.Dirs {
		s.dirs[dir.Path] = true
	}
	n := d.count(MaxFiles, linkEntrySize)
	s.sizes, s.modes = make([]int64, 0, n), make([]fs.FileMode, 0, n)
	for i := 0; i < n && d.err == nil; i++ {
		f, err := s.file(i)
		if err != nil {
			return nil, err
		}
		if err := visit(i, n, f, s.at); err != nil {
			return nil, err
		}
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.left != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadManifest, d.left)
	}
	return m, nil
}

// scanner checks files one at a time against the rules Validate keeps,
// remembering of each only its size and mode (-1: a link), which a later
// link to it needs.
type scanner struct {
	d     *decoder
	m     *Manifest
	size  int64 // of the encoding
	at    int64 // the offset of the last file's first chunk record; -1 for a link
	dirs  map[string]bool
	prev  string
	f     File
	sizes []int64
	modes []fs.FileMode
}

func (s *scanner) file(i int) (*File, error) {
	d, f := s.d, &s.f
	*f = File{Path: d.str(MaxPathLen), LinkTo: -1}
	s.at = -1
	link := d.u32()
	if link != 0 {
		to := int64(link) - 1
		switch {
		case d.err != nil:
		case to >= int64(i):
			d.fail("file %q links to index %d, not an earlier file", f.Path, to)
		case s.sizes[to] < 0:
			d.fail("file %q links to index %d, itself a link", f.Path, to)
		default:
			f.LinkTo, f.Size, f.Mode = int(to), s.sizes[to], s.modes[to]
		}
	} else {
		s.full(f)
	}
	if d.err != nil {
		return nil, d.err
	}
	if err := s.check(i, f); err != nil {
		return nil, err
	}
	size := f.Size
	if f.LinkTo >= 0 {
		size = -1
	}
	s.sizes, s.modes = append(s.sizes, size), append(s.modes, f.Mode)
	s.prev = f.Path
	return f, nil
}

// full reads a full entry's size, mode and chunks, checking each chunk's
// length as the decoder does.
func (s *scanner) full(f *File) {
	d := s.d
	size := d.u64()
	switch {
	case size > math.MaxInt64:
		d.fail("file size %d", size)
	case size > MaxFileSize && d.err == nil:
		d.err = fmt.Errorf("%w: file %q size %d, at most %d", ErrTooLarge, f.Path, size, int64(MaxFileSize))
		d.left = 0
	}
	f.Size, f.Mode = int64(size), fs.FileMode(d.u32())
	n := d.count(MaxTotalChunks-d.chunks, ChunkRecordSize)
	if want := ChunkCount(f.Size, s.m.ChunkSize); d.err == nil && int64(n) != want {
		d.fail("file %q of %d bytes has %d chunks, want %d of %d bytes", f.Path, f.Size, n, want, s.m.ChunkSize)
		return
	}
	d.chunks += n
	s.at = s.size - d.left
	for j := 0; j < n && d.err == nil; j++ {
		if l, want := d.u32(), ChunkLength(f.Size, s.m.ChunkSize, j); d.err == nil && l != want {
			d.err = fmt.Errorf("%w: file %q of %d bytes chunk %d is %d bytes, want %d (every chunk but the last is the chunk size %d)",
				ErrBadManifest, f.Path, f.Size, j, l, want, s.m.ChunkSize)
			d.left = 0
		}
		d.bytes(DigestSize)
	}
}

// check applies Validate's per-file rules to file i.
func (s *scanner) check(i int, f *File) error {
	if err := ValidatePath(f.Path); err != nil {
		return fmt.Errorf("file %d: %w", i, err)
	}
	switch parent := path.Dir(f.Path); {
	case i > 0 && s.prev >= f.Path:
		return fmt.Errorf("%w: file %q out of order or duplicate", ErrBadManifest, f.Path)
	case s.dirs[f.Path]:
		return fmt.Errorf("%w: %q is both a file and a directory", ErrBadManifest, f.Path)
	case parent != "." && !s.dirs[parent]:
		return fmt.Errorf("%w: parent of file %q not listed", ErrBadManifest, f.Path)
	case f.Mode&^fs.ModePerm != 0:
		return fmt.Errorf("%w: file %q has mode %o beyond permission bits", ErrBadManifest, f.Path, uint32(f.Mode))
	}
	return nil
}
