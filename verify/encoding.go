package verify

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"math"
	"sort"
)

// ManifestVersion is the canonical encoding's format version: the digit
// that ends manifestMagic. Version 2 encodes a later hard link of an inode
// as its path and the index of the group's first entry, without a chunk list.
const ManifestVersion = 2

// manifestMagic opens every canonical encoding; the digit is the version.
const manifestMagic = "SNAPMAN2"

// magicPrefix is manifestMagic without its version digit.
const magicPrefix = "SNAPMAN"

// Encode returns the canonical encoding of a valid manifest: big-endian
// integers, length-prefixed strings, labels sorted by key, dirs and files in
// path order. A file is a full entry (path, link 0, size, mode, chunk count,
// chunks) or, for a later path of a hard-link group, a link entry (path, and
// link = 1 + the index of the group's first entry), whose size, mode and
// chunks are that entry's. Equal manifests encode to equal bytes, and Decode accepts only
// canonical bytes, so Encode(Decode(b)) == b.
func (m *Manifest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m.encode()
}

// encode is Encode without Validate (tests craft invalid encodings with it).
func (m *Manifest) encode() ([]byte, error) {
	size := len(manifestMagic) + 64
	for _, d := range m.Dirs {
		size += 8 + len(d.Path)
	}
	for _, f := range m.Files {
		size += linkEntrySize + len(f.Path)
		if f.LinkTo < 0 {
			size += fullEntrySize - linkEntrySize + len(f.Chunks)*(4+DigestSize)
		}
	}
	if size > MaxManifestSize {
		return nil, fmt.Errorf("%w: manifest encoding of %d bytes", ErrTooLarge, size)
	}
	e := encoder{buf: make([]byte, 0, size)}
	e.buf = append(e.buf, manifestMagic...)
	e.meta(&m.Meta)
	e.u32(m.ChunkSize)
	e.u32(uint32(len(m.Dirs)))
	for _, d := range m.Dirs {
		e.str(d.Path)
		e.u32(uint32(d.Mode))
	}
	e.u32(uint32(len(m.Files)))
	for i := range m.Files {
		e.file(&m.Files[i])
	}
	return e.buf, nil
}

type encoder struct{ buf []byte }

func (e *encoder) u32(v uint32) { e.buf = binary.BigEndian.AppendUint32(e.buf, v) }
func (e *encoder) u64(v uint64) { e.buf = binary.BigEndian.AppendUint64(e.buf, v) }
func (e *encoder) str(s string) { e.u32(uint32(len(s))); e.buf = append(e.buf, s...) }

func (e *encoder) meta(m *Meta) {
	e.u64(m.Term)
	e.u64(m.Index)
	e.str(m.Engine)
	e.u64(uint64(m.CreatedUnixNano))
	keys := make([]string, 0, len(m.Labels))
	for k := range m.Labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	e.u32(uint32(len(keys)))
	for _, k := range keys {
		e.str(k)
		e.str(m.Labels[k])
	}
}

// Sizes of a file entry without its path and chunks: a link entry is the
// path's length and the link; a full entry adds size, mode and chunk count.
const (
	linkEntrySize = 8
	fullEntrySize = 24
)

func (e *encoder) file(f *File) {
	e.str(f.Path)
	e.u32(uint32(f.LinkTo + 1))
	if f.LinkTo >= 0 {
		return
	}
	e.u64(uint64(f.Size))
	e.u32(uint32(f.Mode))
	e.u32(uint32(len(f.Chunks)))
	for _, c := range f.Chunks {
		e.u32(c.Length)
		e.buf = append(e.buf, c.Digest[:]...)
	}
}

// Decode parses and validates a canonical encoding. It checks every count
// against the bytes that remain before allocating, and rejects anything
// that is not exactly what Encode would produce.
func Decode(b []byte) (*Manifest, error) {
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: manifest of %d bytes", ErrTooLarge, len(b))
	}
	return DecodeReader(bytes.NewReader(b), int64(len(b)))
}

// readHead starts decoding a canonical encoding of exactly size bytes read
// from r (DecodeReader, Scan): the magic, then Meta, ChunkSize and Dirs into
// a new Manifest; the files are the caller's. A decode error is left in the
// decoder, as every later read's is.
func readHead(r io.Reader, size int64) (*decoder, *Manifest, error) {
	if size < 0 || size > MaxManifestSize {
		return nil, nil, fmt.Errorf("%w: manifest of %d bytes", ErrTooLarge, size)
	}
	d := &decoder{r: bufio.NewReaderSize(io.LimitReader(r, size), 64<<10), left: size}
	if err := checkMagic(d.bytes(len(manifestMagic))); err != nil {
		return nil, nil, err
	}
	m := &Manifest{}
	d.meta(&m.Meta)
	m.ChunkSize = d.u32()
	if d.err == nil && (m.ChunkSize < MinChunkSize || m.ChunkSize > MaxChunkSize) {
		d.fail("chunk size %d outside [%d, %d]", m.ChunkSize, MinChunkSize, MaxChunkSize)
	}
	m.Dirs = make([]Dir, d.count(MaxDirs, 8))
	for i := range m.Dirs {
		m.Dirs[i] = Dir{Path: d.str(MaxPathLen), Mode: fs.FileMode(d.u32())}
	}
	return d, m, nil
}

// DecodeReader decodes a canonical encoding of exactly size bytes read from
// r, as Decode does, with buffers of bounded size: what it allocates is the
// decoded manifest, and every count is checked against the bytes that remain
// (and each file's chunk count against its size) before it is allocated.
func DecodeReader(r io.Reader, size int64) (*Manifest, error) {
	d, m, err := readHead(r, size)
	if err != nil {
		return nil, err
	}
	m.Files = make([]File, d.count(MaxFiles, linkEntrySize))
	for i := range m.Files {
		d.file(m.Files, i, m.ChunkSize)
	}
	if d.err != nil {
		return nil, d.err
	}
	if d.left != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", ErrBadManifest, d.left)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// checkMagic accepts the magic of this format version, and tells a manifest
// of another version from bytes that are no manifest at all.
func checkMagic(b []byte) error {
	switch {
	case string(b) == manifestMagic:
		return nil
	case len(b) == len(manifestMagic) && string(b[:len(magicPrefix)]) == magicPrefix && b[len(magicPrefix)] >= '1' && b[len(magicPrefix)] <= '9':
		return &VersionError{Got: int(b[len(magicPrefix)] - '0'), Want: ManifestVersion}
	}
	return fmt.Errorf("%w: not a manifest (bad magic)", ErrBadManifest)
}

// DecodeVerified decodes b after checking that its digest is id.
func DecodeVerified(id Digest, b []byte) (*Manifest, error) {
	if err := CheckDigest("manifest", id, Sum(b)); err != nil {
		return nil, err
	}
	return Decode(b)
}

// decoder reads big-endian fields from r, of which left bytes remain; after
// the first error every read returns zero values and the error sticks.
type decoder struct {
	r      *bufio.Reader
	left   int64
	chunks int // read so far, across files
	err    error
	scr    [DigestSize]byte
}

func (d *decoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: "+format, append([]any{ErrBadManifest}, args...)...)
	}
	d.left = 0
}

// bytes returns the next n bytes, in a buffer of its own when n exceeds the
// scratch array.
func (d *decoder) bytes(n int) []byte {
	if d.err != nil || n < 0 || int64(n) > d.left {
		d.fail("truncated")
		return nil
	}
	b := d.scr[:0]
	if n > len(d.scr) {
		b = make([]byte, n)
	}
	b = b[:n]
	if _, err := io.ReadFull(d.r, b); err != nil {
		d.fail("truncated: %v", err)
		return nil
	}
	d.left -= int64(n)
	return b
}

func (d *decoder) u32() uint32 {
	b := d.bytes(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (d *decoder) u64() uint64 {
	b := d.bytes(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (d *decoder) str(max int) string {
	n := d.u32()
	if int64(n) > int64(max) {
		d.fail("string of %d bytes, at most %d", n, max)
		return ""
	}
	return string(d.bytes(int(n)))
}

// count reads an element count, bounded by max and by the bytes left given
// that every element takes at least minSize bytes.
func (d *decoder) count(max, minSize int) int {
	n := d.u32()
	if int64(n) > int64(max) || int64(n)*int64(minSize) > d.left {
		d.fail("count %d exceeds limit or remaining input", n)
		return 0
	}
	return int(n)
}

func (d *decoder) meta(m *Meta) {
	m.Term = d.u64()
	m.Index = d.u64()
	m.Engine = d.str(MaxEngineLen)
	m.CreatedUnixNano = int64(d.u64())
	n := d.count(MaxLabels, 8)
	if n == 0 {
		return
	}
	m.Labels = make(map[string]string, n)
	prev := ""
	for i := 0; i < n && d.err == nil; i++ {
		k, v := d.str(MaxLabelLen), d.str(MaxLabelLen)
		if i > 0 && k <= prev {
			d.fail("labels out of order or duplicate at %q", k)
		}
		m.Labels[k], prev = v, k
	}
}

// file reads file i of files: a link entry, or a full entry whose chunk
// count must be the one its size gives (every chunk but the last is
// chunkSize long), checked before the chunks are allocated, as is the total
// against MaxTotalChunks.
func (d *decoder) file(files []File, i int, chunkSize uint32) {
	f := &files[i]
	f.Path = d.str(MaxPathLen)
	if link := d.u32(); link != 0 {
		d.link(files, i, int64(link)-1)
		return
	}
	f.LinkTo = -1
	size := d.u64()
	switch {
	case size > math.MaxInt64:
		d.fail("file %d size %d", i, size)
	case size > MaxFileSize && d.err == nil:
		d.err = fmt.Errorf("%w: file %d size %d, at most %d", ErrTooLarge, i, size, int64(MaxFileSize))
		d.left = 0
	}
	f.Size = int64(size)
	f.Mode = fs.FileMode(d.u32())
	n := d.count(MaxTotalChunks-d.chunks, 4+DigestSize)
	if want := ChunkCount(f.Size, chunkSize); d.err == nil && int64(n) != want {
		d.fail("file %q of %d bytes has %d chunks, want %d of %d bytes", f.Path, f.Size, n, want, chunkSize)
		return
	}
	d.chunks += n
	f.Chunks = make([]Chunk, n)
	for j := range f.Chunks {
		f.Chunks[j].Length = d.u32()
		copy(f.Chunks[j].Digest[:], d.bytes(DigestSize))
	}
}

// link makes file i a hard link of the earlier full entry to: it shares that
// entry's size, mode and chunk slice, so a link costs its path, not a copy
// of the chunk list.
func (d *decoder) link(files []File, i int, to int64) {
	f := &files[i]
	switch {
	case d.err != nil:
		return
	case to >= int64(i):
		d.fail("file %q links to index %d, not an earlier file", f.Path, to)
		return
	case files[to].LinkTo != -1:
		d.fail("file %q links to %q, itself a link", f.Path, files[to].Path)
		return
	}
	t := &files[to]
	f.LinkTo, f.Size, f.Mode, f.Chunks = int(to), t.Size, t.Mode, t.Chunks
}
