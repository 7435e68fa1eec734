package server

import (
	"bytes"
	"testing"

	"github.com/snapsync/snapsync/verify"
)

// FuzzDecodeDigestCache: the digest cache is read back from disk, so any
// bytes must decode to an error or to entries that encode back to a cache
// that decodes to the same entries; never a panic or an unbounded
// allocation.
func FuzzDecodeDigestCache(f *testing.F) {
	entries := map[fileKey]*cacheEntry{
		{Dev: 1, Ino: 2, Size: 5, MtimeNs: 9, ChunkSize: 4}: {used: 3, chunks: []verify.Chunk{
			{Length: 4, Digest: verify.Sum([]byte("abcd"))}, {Length: 1, Digest: verify.Sum([]byte("e"))}}},
	}
	f.Add(encodeDigestCache(7, entries))
	f.Add(encodeDigestCache(0, nil))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		gen, got, err := decodeDigestCache(b, 1<<10)
		if err != nil {
			return
		}
		again := encodeDigestCache(gen, got)
		gen2, got2, err := decodeDigestCache(again, 1<<10)
		if err != nil || gen2 != gen || len(got2) != len(got) {
			t.Fatalf("re-encoded cache does not decode the same: %v", err)
		}
		if !bytes.Equal(encodeDigestCache(gen2, got2), again) {
			t.Fatal("encoding is not stable")
		}
	})
}

// FuzzDecodeState: a checkpoint's lease state is read back from disk at
// start; any bytes must give an error or a state, never a panic.
func FuzzDecodeState(f *testing.F) {
	id := verify.Sum([]byte("snapshot"))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"version":1,"dir":"/work/checkpoints/x","owned":true,"leases":[{"id":"ab","expires_unix_nano":1}]}`))
	f.Add([]byte(`not json`))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = decodeState(b, id, "/work/checkpoints") // only that it returns
	})
}
