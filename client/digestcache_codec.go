package client

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// The follower cache file: magic, entry count, entries (key, chunk count,
// chunks), then the SHA-256 of everything before it. The file is untrusted
// (docs/DESIGN.md invariant 4): every count is bounded before allocation, every entry must
// be a well-formed fixed-size chunking of its file, keys are sorted and
// distinct, and nothing may trail.
const (
	localCacheMagic = "SNAPFC01"
	localEntryFixed = 8*5 + 4 + 4 // dev, ino, birth, size, mtime; chunk size; chunk count
	localChunkSize  = 4 + verify.DigestSize
)

var errBadLocalCache = errors.New("client: bad digest cache file")

func encodeLocalCache(entries map[cacheKey][]verify.Chunk) []byte {
	keys := make([]cacheKey, 0, len(entries))
	size := len(localCacheMagic) + 4 + verify.DigestSize
	for k, cs := range entries {
		keys = append(keys, k)
		size += localEntryFixed + len(cs)*localChunkSize
	}
	slices.SortFunc(keys, compareCacheKeys) // deterministic bytes
	b := make([]byte, 0, size)
	b = append(b, localCacheMagic...)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		for _, v := range []uint64{k.ID.Dev, k.ID.Ino, uint64(k.ID.Birth), uint64(k.Size), uint64(k.MtimeNs)} {
			b = binary.BigEndian.AppendUint64(b, v)
		}
		b = binary.BigEndian.AppendUint32(b, k.ChunkSize)
		cs := entries[k]
		b = binary.BigEndian.AppendUint32(b, uint32(len(cs)))
		for _, c := range cs {
			b = binary.BigEndian.AppendUint32(b, c.Length)
			b = append(b, c.Digest[:]...)
		}
	}
	sum := verify.Sum(b)
	return append(b, sum[:]...)
}

func compareCacheKeys(a, b cacheKey) int {
	return cmp.Or(cmp.Compare(a.ID.Dev, b.ID.Dev), cmp.Compare(a.ID.Ino, b.ID.Ino), cmp.Compare(a.ID.Birth, b.ID.Birth),
		cmp.Compare(a.Size, b.Size), cmp.Compare(a.MtimeNs, b.MtimeNs), cmp.Compare(a.ChunkSize, b.ChunkSize))
}

// decodeLocalCache parses a cache file holding at most maxChunks chunks.
func decodeLocalCache(b []byte, maxChunks int) (*localCache, error) {
	if len(b) < len(localCacheMagic)+4+verify.DigestSize || string(b[:len(localCacheMagic)]) != localCacheMagic {
		return nil, fmt.Errorf("%w: bad magic or truncated", errBadLocalCache)
	}
	body := b[:len(b)-verify.DigestSize]
	if err := verify.CheckDigest("digest cache", verify.Digest(b[len(body):]), verify.Sum(body)); err != nil {
		return nil, fmt.Errorf("%w: %w", errBadLocalCache, err)
	}
	r := body[len(localCacheMagic):]
	n := int(binary.BigEndian.Uint32(r))
	r = r[4:]
	if n > len(r)/localEntryFixed {
		return nil, fmt.Errorf("%w: %d entries in %d bytes", errBadLocalCache, n, len(r))
	}
	c := &localCache{entries: make(map[cacheKey][]verify.Chunk, n)}
	total := 0
	var prev cacheKey
	for i := 0; i < n; i++ {
		k, cs, rest, err := decodeLocalEntry(r, maxChunks-total)
		if err != nil {
			return nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if i > 0 && compareCacheKeys(prev, k) >= 0 {
			return nil, fmt.Errorf("%w: entry %d out of order or duplicated", errBadLocalCache, i)
		}
		c.entries[k], r, total, prev = cs, rest, total+len(cs), k
	}
	if len(r) != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errBadLocalCache, len(r))
	}
	return c, nil
}

func decodeLocalEntry(r []byte, budget int) (cacheKey, []verify.Chunk, []byte, error) {
	if len(r) < localEntryFixed {
		return cacheKey{}, nil, nil, fmt.Errorf("%w: truncated", errBadLocalCache)
	}
	u64 := func(i int) uint64 { return binary.BigEndian.Uint64(r[8*i:]) }
	k := cacheKey{ID: durable.FileID{Dev: u64(0), Ino: u64(1), Birth: int64(u64(2))}, Size: int64(u64(3)),
		MtimeNs: int64(u64(4)), ChunkSize: binary.BigEndian.Uint32(r[40:])}
	n := int(binary.BigEndian.Uint32(r[44:]))
	r = r[localEntryFixed:]
	if k.ID.IsZero() {
		return k, nil, nil, fmt.Errorf("%w: no file identity", errBadLocalCache)
	}
	if n > budget || n > len(r)/localChunkSize {
		return k, nil, nil, fmt.Errorf("%w: %d chunks exceed the bound or the input", errBadLocalCache, n)
	}
	cs := make([]verify.Chunk, n)
	for j := range cs {
		cs[j].Length = binary.BigEndian.Uint32(r)
		copy(cs[j].Digest[:], r[4:localChunkSize])
		r = r[localChunkSize:]
	}
	if !chunkedBy(k.Size, k.ChunkSize, cs) {
		return k, nil, nil, fmt.Errorf("%w: chunks do not split a %d-byte file by %d", errBadLocalCache, k.Size, k.ChunkSize)
	}
	return k, cs, r, nil
}

// chunkedBy reports whether chunks are the fixed-size chunking of a file of
// size bytes: every chunk full but a shorter, non-empty last one.
func chunkedBy(size int64, chunkSize uint32, chunks []verify.Chunk) bool {
	if chunkSize < verify.MinChunkSize || chunkSize > verify.MaxChunkSize || size < 0 || size > verify.MaxFileSize {
		return false
	}
	cs := int64(chunkSize)
	if int64(len(chunks)) != (size+cs-1)/cs {
		return false
	}
	for j, c := range chunks {
		if int64(c.Length) != min(cs, size-int64(j)*cs) {
			return false
		}
	}
	return true
}
