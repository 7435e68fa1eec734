package server

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/snapsync/snapsync/verify"
)

// The digest cache file: magic, generation, entry count, entries, then the
// SHA-256 of everything before it. The file is untrusted (docs/DESIGN.md invariant 4):
// every count is bounded before allocation and every entry must be a
// well-formed fixed-size chunking of its file.
const (
	cacheMagic      = "SNAPDC01"
	cacheEntryFixed = 8*4 + 4 + 8 + 4 // key, used, chunk count
	cacheChunkSize  = 4 + verify.DigestSize
)

var errBadCache = errors.New("server: bad digest cache file")

func encodeDigestCache(gen uint64, entries map[fileKey]*cacheEntry) []byte {
	keys := make([]fileKey, 0, len(entries))
	size := len(cacheMagic) + 12 + verify.DigestSize
	for k, e := range entries {
		keys = append(keys, k)
		size += cacheEntryFixed + len(e.chunks)*cacheChunkSize
	}
	slices.SortFunc(keys, compareKeys) // deterministic bytes
	b := make([]byte, 0, size)
	b = append(b, cacheMagic...)
	b = binary.BigEndian.AppendUint64(b, gen)
	b = binary.BigEndian.AppendUint32(b, uint32(len(keys)))
	for _, k := range keys {
		e := entries[k]
		for _, v := range []uint64{k.Dev, k.Ino, uint64(k.Size), uint64(k.MtimeNs)} {
			b = binary.BigEndian.AppendUint64(b, v)
		}
		b = binary.BigEndian.AppendUint32(b, k.ChunkSize)
		b = binary.BigEndian.AppendUint64(b, e.used)
		b = binary.BigEndian.AppendUint32(b, uint32(len(e.chunks)))
		for _, c := range e.chunks {
			b = binary.BigEndian.AppendUint32(b, c.Length)
			b = append(b, c.Digest[:]...)
		}
	}
	sum := verify.Sum(b)
	return append(b, sum[:]...)
}

func compareKeys(a, b fileKey) int {
	return cmp.Or(cmp.Compare(a.Dev, b.Dev), cmp.Compare(a.Ino, b.Ino), cmp.Compare(a.Size, b.Size),
		cmp.Compare(a.MtimeNs, b.MtimeNs), cmp.Compare(a.ChunkSize, b.ChunkSize))
}

// decodeDigestCache parses a cache file holding at most maxChunks chunks.
func decodeDigestCache(b []byte, maxChunks int) (uint64, map[fileKey]*cacheEntry, error) {
	if len(b) < len(cacheMagic)+12+verify.DigestSize || string(b[:len(cacheMagic)]) != cacheMagic {
		return 0, nil, fmt.Errorf("%w: bad magic or truncated", errBadCache)
	}
	body := b[:len(b)-verify.DigestSize]
	if err := verify.CheckDigest("digest cache", verify.Digest(b[len(body):]), verify.Sum(body)); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", errBadCache, err)
	}
	r := body[len(cacheMagic):]
	gen := binary.BigEndian.Uint64(r)
	n := int(binary.BigEndian.Uint32(r[8:]))
	r = r[12:]
	if n > len(r)/cacheEntryFixed {
		return 0, nil, fmt.Errorf("%w: %d entries in %d bytes", errBadCache, n, len(r))
	}
	entries := make(map[fileKey]*cacheEntry, n)
	total := 0
	for i := 0; i < n; i++ {
		k, e, rest, err := decodeCacheEntry(r, maxChunks-total)
		if err != nil {
			return 0, nil, fmt.Errorf("entry %d: %w", i, err)
		}
		if _, dup := entries[k]; dup {
			return 0, nil, fmt.Errorf("%w: entry %d duplicated", errBadCache, i)
		}
		entries[k], r, total = e, rest, total+len(e.chunks)
	}
	if len(r) != 0 {
		return 0, nil, fmt.Errorf("%w: %d trailing bytes", errBadCache, len(r))
	}
	return gen, entries, nil
}

func decodeCacheEntry(r []byte, budget int) (fileKey, *cacheEntry, []byte, error) {
	if len(r) < cacheEntryFixed {
		return fileKey{}, nil, nil, fmt.Errorf("%w: truncated", errBadCache)
	}
	u64 := func(i int) uint64 { return binary.BigEndian.Uint64(r[8*i:]) }
	k := fileKey{Dev: u64(0), Ino: u64(1), Size: int64(u64(2)), MtimeNs: int64(u64(3)),
		ChunkSize: binary.BigEndian.Uint32(r[32:])}
	e := &cacheEntry{used: binary.BigEndian.Uint64(r[36:])}
	n := int(binary.BigEndian.Uint32(r[44:]))
	r = r[cacheEntryFixed:]
	if n > budget || n > len(r)/cacheChunkSize {
		return k, nil, nil, fmt.Errorf("%w: %d chunks exceed the bound or the input", errBadCache, n)
	}
	e.chunks = make([]verify.Chunk, n)
	for j := range e.chunks {
		e.chunks[j].Length = binary.BigEndian.Uint32(r)
		copy(e.chunks[j].Digest[:], r[4:cacheChunkSize])
		r = r[cacheChunkSize:]
	}
	if !wellChunked(k, e.chunks) {
		return k, nil, nil, fmt.Errorf("%w: chunks do not split a %d-byte file by %d", errBadCache, k.Size, k.ChunkSize)
	}
	return k, e, r, nil
}

// wellChunked reports whether chunks are the fixed-size chunking of a file of
// k.Size bytes: every chunk full but a shorter, non-empty last one.
func wellChunked(k fileKey, chunks []verify.Chunk) bool {
	if k.ChunkSize < verify.MinChunkSize || k.ChunkSize > verify.MaxChunkSize || k.Size < 0 || k.Size > verify.MaxFileSize {
		return false
	}
	cs := int64(k.ChunkSize)
	if int64(len(chunks)) != (k.Size+cs-1)/cs {
		return false
	}
	for j, c := range chunks {
		want := min(cs, k.Size-int64(j)*cs)
		if int64(c.Length) != want {
			return false
		}
	}
	return true
}
