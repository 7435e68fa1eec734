package client

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// BenchmarkIndexTrees indexes a follower's DB of 16 files of 4 MiB while
// planning: hashed (no cache, as --verify-local), from the follower digest
// cache, and foreign (no cache, no first chunk the plan wants: the
// prefilter reads one chunk a file). Bytes are the DB's.
func BenchmarkIndexTrees(b *testing.B) {
	const files, size = 16, 4 << 20
	root := b.TempDir()
	data := make([]byte, size)
	cache := &localCache{entries: make(map[digestcache.Key]*digestcache.Entry)}
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
		cache.entries[digestcache.KeyOf(info, testChunkSize)] = &digestcache.Entry{Chunks: make([]verify.Chunk, size/testChunkSize)}
	}
	for _, tc := range []struct {
		name  string
		cache *localCache
		pf    *prefilter
	}{
		{"hashed", nil, nil},
		{"cached", cache, nil},
		{"foreign", nil, &prefilter{want: newDigestSet()}}, // first chunks read
		{"foreign, of no manifest size", nil, &prefilter{want: newDigestSet(), immutable: DefaultImmutable}}, // nothing read
	} {
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(files * size)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := indexTrees(context.Background(), []localTree{{root: root, fromDest: true}}, testChunkSize, tc.pf, nil, tc.cache, zerolog.Nop()); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkIndexOneLargeFile hashes one 64 MiB file (no cache, as
// --verify-local): its chunk ranges are spread over every core.
func BenchmarkIndexOneLargeFile(b *testing.B) {
	const size = 64 << 20
	root := b.TempDir()
	if err := os.WriteFile(filepath.Join(root, "big.sst"), make([]byte, size), 0o644); err != nil {
		b.Fatal(err)
	}
	b.SetBytes(size)
	for b.Loop() {
		if _, err := indexTrees(context.Background(), []localTree{{root: root, fromDest: true}}, testChunkSize, nil, nil, nil, zerolog.Nop()); err != nil {
			b.Fatal(err)
		}
	}
}
