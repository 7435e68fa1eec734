package digestcache

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// A cache file: magic, generation, entry count, entries (key, used
// generation, chunk count, chunks), then the SHA-256 of everything before it.
// The file is untrusted (docs/DESIGN.md invariant 4): every count is bounded
// before allocation, every entry must be the one chunking of its file
// (verify.CheckChunkShape), keys are sorted (Compare) and distinct, and
// nothing may trail.
const (
	magic      = "SNAPDC02"
	headerSize = len(magic) + 8 + 4
	entryFixed = 8*5 + 4 + 8 + 4 // dev, ino, birth, size, mtime; chunk size; used; chunk count
	chunkBytes = 4 + verify.DigestSize
)

// oldMagics are the formats before this one: the server's (keyed without a
// birth time) and the follower's. A file in either is refused with
// ErrOldFormat, and the cache starts empty.
var oldMagics = []string{"SNAPDC01", "SNAPFC01"}

var (
	// ErrBad is returned for a cache file that does not decode.
	ErrBad = errors.New("digestcache: bad digest cache file")
	// ErrOldFormat is returned (wrapping ErrBad) for a cache file written in
	// an earlier format.
	ErrOldFormat = fmt.Errorf("%w: written in an earlier format", ErrBad)
)

// MaxEncodedSize is the size of the largest file Decode accepts with a bound
// of maxChunks chunks, counting an entry for each chunk.
func MaxEncodedSize(maxChunks int) int64 {
	return int64(headerSize+verify.DigestSize) + int64(maxChunks)*(chunkBytes+entryFixed)
}

// Encode returns the cache file of generation gen holding entries; the same
// entries always give the same bytes.
func Encode(gen uint64, entries map[Key]*Entry) []byte {
	items := make([]Item, 0, len(entries))
	for k, e := range entries {
		items = append(items, Item{Key: k, Entry: e})
	}
	return EncodeItems(gen, items)
}

// Item is one entry of a cache file with its key.
type Item struct {
	Key
	*Entry
	// Load, for an item without Entry (EncodeLoading), reads its chunk
	// list when the encoding comes to it.
	Load func() ([]verify.Chunk, error)
}

// EncodeItems is Encode of entries held in a slice, in any order (it sorts
// them, and keeps one entry of a key given twice): a writer of a million
// entries holds 64 bytes an entry instead of a map's.
func EncodeItems(gen uint64, items []Item) []byte {
	b, _ := EncodeLoading(gen, items) // every item has its Entry: nothing to load, nothing to fail
	return b
}

// EncodeLoading is EncodeItems where an item may come without its Entry:
// its chunk list is read by its Load as the encoding comes to it (and must
// be the one chunking of its key's size), so a writer holds the encoding
// and one chunk list at a time, not every list twice.
func EncodeLoading(gen uint64, items []Item) ([]byte, error) {
	slices.SortStableFunc(items, func(a, b Item) int { return Compare(a.Key, b.Key) })
	items = slices.CompactFunc(items, func(a, b Item) bool { return a.Key == b.Key })
	size := headerSize + verify.DigestSize
	for _, it := range items {
		size += entryFixed + int(verify.ChunkCount(it.Size, it.ChunkSize))*chunkBytes
	}
	b := make([]byte, 0, size)
	b = append(b, magic...)
	b = binary.BigEndian.AppendUint64(b, gen)
	b = binary.BigEndian.AppendUint32(b, uint32(len(items)))
	for _, it := range items {
		k := it.Key
		for _, v := range []uint64{k.ID.Dev, k.ID.Ino, uint64(k.ID.Birth), uint64(k.Size), uint64(k.MtimeNs)} {
			b = binary.BigEndian.AppendUint64(b, v)
		}
		b = binary.BigEndian.AppendUint32(b, k.ChunkSize)
		e := it.Entry
		if e == nil {
			chunks, err := it.Load()
			if err != nil {
				return nil, err
			}
			if err := verify.CheckChunkShape(k.Size, k.ChunkSize, chunks); err != nil {
				return nil, fmt.Errorf("digestcache: entry of %d bytes: %w", k.Size, err)
			}
			e = &Entry{Chunks: chunks}
		}
		b = binary.BigEndian.AppendUint64(b, e.Used)
		b = binary.BigEndian.AppendUint32(b, uint32(len(e.Chunks)))
		for _, c := range e.Chunks {
			b = binary.BigEndian.AppendUint32(b, c.Length)
			b = append(b, c.Digest[:]...)
		}
	}
	sum := verify.Sum(b)
	return append(b, sum[:]...), nil
}

// Decode parses a cache file holding at most maxChunks chunks and returns
// its generation and entries.
func Decode(b []byte, maxChunks int) (uint64, map[Key]*Entry, error) {
	if len(b) >= len(magic) && slices.Contains(oldMagics, string(b[:len(magic)])) {
		return 0, nil, fmt.Errorf("%w (%s)", ErrOldFormat, b[:len(magic)])
	}
	if len(b) < headerSize+verify.DigestSize || string(b[:len(magic)]) != magic {
		return 0, nil, fmt.Errorf("%w: bad magic or truncated", ErrBad)
	}
	body := b[:len(b)-verify.DigestSize]
	if err := verify.CheckDigest("digest cache", verify.Digest(b[len(body):]), verify.Sum(body)); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrBad, err)
	}
	r := body[len(magic):]
	gen := binary.BigEndian.Uint64(r)
	n := int(binary.BigEndian.Uint32(r[8:]))
	r = r[12:]
	if n > len(r)/entryFixed {
		return 0, nil, fmt.Errorf("%w: %d entries in %d bytes", ErrBad, n, len(r))
	}
	entries := make(map[Key]*Entry, n)
	total := 0
	var prev Key
	for i := 0; i < n; i++ {
		k, e, rest, err := decodeEntry(r, maxChunks-total)
		if err != nil {
			return 0, nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if i > 0 && Compare(prev, k) >= 0 {
			return 0, nil, fmt.Errorf("%w: entry %d out of order or duplicated", ErrBad, i)
		}
		entries[k], r, total, prev = e, rest, total+len(e.Chunks), k
	}
	if len(r) != 0 {
		return 0, nil, fmt.Errorf("%w: %d trailing bytes", ErrBad, len(r))
	}
	return gen, entries, nil
}

func decodeEntry(r []byte, budget int) (Key, *Entry, []byte, error) {
	if len(r) < entryFixed {
		return Key{}, nil, nil, fmt.Errorf("%w: truncated", ErrBad)
	}
	u64 := func(i int) uint64 { return binary.BigEndian.Uint64(r[8*i:]) }
	k := Key{ID: durable.FileID{Dev: u64(0), Ino: u64(1), Birth: int64(u64(2))}, Size: int64(u64(3)),
		MtimeNs: int64(u64(4)), ChunkSize: binary.BigEndian.Uint32(r[40:])}
	e := &Entry{Used: binary.BigEndian.Uint64(r[44:])}
	n := int(binary.BigEndian.Uint32(r[52:]))
	r = r[entryFixed:]
	if k.ID.IsZero() {
		return k, nil, nil, fmt.Errorf("%w: no file identity", ErrBad)
	}
	if n > budget || n > len(r)/chunkBytes {
		return k, nil, nil, fmt.Errorf("%w: %d chunks exceed the bound or the input", ErrBad, n)
	}
	e.Chunks = make([]verify.Chunk, n)
	for j := range e.Chunks {
		e.Chunks[j].Length = binary.BigEndian.Uint32(r)
		copy(e.Chunks[j].Digest[:], r[4:chunkBytes])
		r = r[chunkBytes:]
	}
	if err := verify.CheckChunkShape(k.Size, k.ChunkSize, e.Chunks); err != nil {
		return k, nil, nil, fmt.Errorf("%w: a %d-byte file %w", ErrBad, k.Size, err)
	}
	return k, e, r, nil
}
