package repo

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/snapsync/snapsync/verify"
)

// An index object (format 2) lists where chunks are stored: for each, its
// digest, its pack, the offset of its blob there, the blob body's length
// (stored), the chunk's length (raw) and its encoding. It is binary, all
// integers big-endian:
//
//	magic "SNAPIDX2" | packs uint32 | entries uint32
//	packs × 32-byte pack ID (which names it: packs/ab/abcdef…)
//	entries × (digest [32] | pack uint32 | offset uint32 | stored uint32 | raw uint32 | encoding uint8)
//
// Its key is index/<SHA-256 of the object>, so a reader verifies the whole
// object before it believes one entry. In an encrypted repository the
// digests are stored IDs (crypt.go), the object is sealed whole, and its
// key is the SHA-256 of the sealed object. One is written per backup (more for a
// backup of over maxIndexEntries chunks) after the packs it names and before
// the snapshot object, the commit point.
const (
	indexMagic      = "SNAPIDX2"
	indexHeaderSize = len(indexMagic) + 8
	indexEntrySize  = verify.DigestSize + 4*4 + 1
	// maxIndexEntries bounds an index object: 65,536 chunks (64 GiB of
	// 1 MiB chunks) in at most 5.3 MB.
	maxIndexEntries = 1 << 16
	maxIndexSize    = indexHeaderSize + maxIndexEntries*(verify.DigestSize+indexEntrySize)
)

// location is where a chunk is stored: a blob of a pack.
type location struct {
	pack   verify.Digest // the pack's ID
	offset uint32        // of the blob's header in the pack
	stored uint32        // length of the blob's body
	raw    uint32        // the chunk's length
	enc    byte          // the body's encoding
}

// end returns the offset just past the blob.
func (l location) end() int64 { return int64(l.offset) + blobHeaderSize + int64(l.stored) }

// indexEntry is one chunk of an index object.
type indexEntry struct {
	digest verify.Digest
	location
}

// encodeIndex returns the index object of entries (at most
// maxIndexEntries), in pack and offset order.
func encodeIndex(entries []indexEntry) []byte {
	entries = slices.Clone(entries)
	slices.SortFunc(entries, func(a, b indexEntry) int {
		if c := bytes.Compare(a.pack[:], b.pack[:]); c != 0 {
			return c
		}
		return int(int64(a.offset) - int64(b.offset))
	})
	packNo := make(map[verify.Digest]uint32)
	var packs []verify.Digest
	for _, e := range entries {
		if _, ok := packNo[e.pack]; !ok {
			packNo[e.pack] = uint32(len(packs))
			packs = append(packs, e.pack)
		}
	}
	b := make([]byte, 0, indexHeaderSize+len(packs)*verify.DigestSize+len(entries)*indexEntrySize)
	b = append(b, indexMagic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(packs)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(entries)))
	for _, p := range packs {
		b = append(b, p[:]...)
	}
	for _, e := range entries {
		b = append(b, e.digest[:]...)
		b = binary.BigEndian.AppendUint32(b, packNo[e.pack])
		b = binary.BigEndian.AppendUint32(b, e.offset)
		b = binary.BigEndian.AppendUint32(b, e.stored)
		b = binary.BigEndian.AppendUint32(b, e.raw)
		b = append(b, e.enc)
	}
	return b
}

// decodeIndex parses the index object b (opened, in an encrypted
// repository) stored at the key naming sum, strictly: its length must be
// exactly what its counts say, and every entry a blob a pack can hold with
// overhead bytes of sealing (see checkLocation). The caller checked sum.
func decodeIndex(sum verify.Digest, b []byte, overhead int) ([]indexEntry, error) {
	if len(b) < indexHeaderSize || string(b[:len(indexMagic)]) != indexMagic {
		return nil, fmt.Errorf("index %s: %w: no index header", sum, ErrCorrupt)
	}
	np := binary.BigEndian.Uint32(b[len(indexMagic):])
	ne := binary.BigEndian.Uint32(b[len(indexMagic)+4:])
	if ne > maxIndexEntries || np > ne || (ne > 0 && np == 0) ||
		int64(len(b)) != int64(indexHeaderSize)+int64(np)*verify.DigestSize+int64(ne)*indexEntrySize {
		return nil, fmt.Errorf("index %s: %w: %d packs and %d entries in %d bytes", sum, ErrCorrupt, np, ne, len(b))
	}
	packs := make([]verify.Digest, np)
	rest := b[indexHeaderSize:]
	for i := range packs {
		packs[i] = verify.Digest(rest[:verify.DigestSize])
		rest = rest[verify.DigestSize:]
	}
	out := make([]indexEntry, ne)
	for i := range out {
		e := &out[i]
		e.digest = verify.Digest(rest[:verify.DigestSize])
		p := binary.BigEndian.Uint32(rest[32:])
		if p >= np {
			return nil, fmt.Errorf("index %s: %w: entry %d names pack %d of %d", sum, ErrCorrupt, i, p, np)
		}
		e.pack = packs[p]
		e.offset = binary.BigEndian.Uint32(rest[36:])
		e.stored = binary.BigEndian.Uint32(rest[40:])
		e.raw = binary.BigEndian.Uint32(rest[44:])
		e.enc = rest[48]
		rest = rest[indexEntrySize:]
		if err := checkLocation(e.location, overhead); err != nil {
			return nil, fmt.Errorf("index %s: %w: chunk %s: %v", sum, ErrCorrupt, e.digest, err)
		}
	}
	return out, nil
}

// checkLocation refuses a location no pack this format writes can hold,
// its blob sealed with overhead bytes more.
func checkLocation(l location, overhead int) error {
	switch {
	case l.raw > verify.MaxChunkSize:
		return fmt.Errorf("length %d over the limit %d", l.raw, verify.MaxChunkSize)
	case l.stored < 1+uint32(overhead) || l.stored > maxBlobBody:
		return fmt.Errorf("stored length %d out of range", l.stored)
	case int(l.offset) < packHeaderSize || l.end() > maxPackSize:
		return fmt.Errorf("blob at %d of %d bytes outside a pack", l.offset, l.stored)
	case l.enc == encRaw && l.stored != l.raw+1+uint32(overhead):
		return fmt.Errorf("raw blob of %d bytes for a chunk of %d", l.stored, l.raw)
	case l.enc != encRaw && l.enc != encZstd:
		return fmt.Errorf("unknown encoding %d", l.enc)
	}
	return nil
}
