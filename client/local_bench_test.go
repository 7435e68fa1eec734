package client

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// BenchmarkIndexTrees indexes a follower's DB of 16 files of 4 MiB while
// planning: hashed (no cache, as --verify-local) and from the follower
// digest cache. Bytes are the DB's.
func BenchmarkIndexTrees(b *testing.B) {
	const files, size = 16, 4 << 20
	root := b.TempDir()
	data := make([]byte, size)
	cache := &localCache{entries: make(map[cacheKey][]verify.Chunk)}
	for i := range files {
		data[0] = byte(i)
		p := filepath.Join(root, strconv.Itoa(i)+".sst")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			b.Fatal(err)
		}
		info, err := durable.Lstat(p)
		if err != nil {
			b.Fatal(err)
		}
		cache.entries[keyOf(info, testChunkSize)] = make([]verify.Chunk, size/testChunkSize)
	}
	for _, tc := range []struct {
		name  string
		cache *localCache
	}{{"hashed", nil}, {"cached", cache}} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(files * size)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := indexTrees(context.Background(), []localTree{{root: root, fromDest: true}}, testChunkSize, nil, tc.cache, zerolog.Nop()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeLocalCache decodes the cache of a 1 GiB DB in 1 MiB chunks.
func BenchmarkDecodeLocalCache(b *testing.B) {
	entries := make(map[cacheKey][]verify.Chunk)
	for i := range 256 {
		cs := make([]verify.Chunk, 4)
		for j := range cs {
			cs[j].Length = 1 << 20
		}
		entries[cacheKey{ID: durable.FileID{Dev: 1, Ino: uint64(i + 1)}, Size: 4 << 20, ChunkSize: 1 << 20}] = cs
	}
	enc := encodeLocalCache(entries)
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeLocalCache(enc, maxCacheChunks); err != nil {
			b.Fatal(err)
		}
	}
}
