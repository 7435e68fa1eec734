package server

import (
	"context"
	"fmt"
	"testing"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

func TestFrameCacheBound(t *testing.T) {
	t.Parallel()
	c := newFrameCache(3 * (100 + frameEntryOverhead))
	d := func(i int) verify.Digest { return verify.Sum([]byte(fmt.Sprint(i))) }
	for i := range 4 {
		c.put(d(i), make([]byte, 100))
	}
	if _, ok := c.get(d(0)); ok {
		t.Fatal("the least recently used frame outlived the bound")
	}
	for i := 1; i < 4; i++ {
		if f, ok := c.get(d(i)); !ok || len(f) != 100 {
			t.Fatalf("frame %d: %d bytes, %v", i, len(f), ok)
		}
	}
	c.put(d(9), nil) // "did not pay"
	if f, ok := c.get(d(9)); !ok || f != nil {
		t.Fatalf("a no-frame verdict: %v %v", f, ok)
	}
	c.put(d(10), make([]byte, 1<<20)) // larger than the cache: not kept
	if _, ok := c.get(d(10)); ok {
		t.Fatal("a frame larger than the whole cache was kept")
	}
	if hits, misses := c.counts(); hits != 4 || misses != 2 {
		t.Fatalf("hits %d misses %d, want 4 and 2", hits, misses)
	}
	var none *frameCache // disabled
	none.put(d(1), []byte("x"))
	if _, ok := none.get(d(1)); ok {
		t.Fatal("a nil cache returned a frame")
	}
}

// TestFrameCacheSharedByFollowers: a second follower fetching the same
// checkpoint with zstd gets every frame from the cache (no compression), the
// same bytes on the wire, every chunk verified; with the cache off every
// chunk is compressed again.
func TestFrameCacheSharedByFollowers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		cacheSize int64
		wantHits  bool
	}{{"cache on", 0, true}, {"cache off", -1, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			src := openPebble(t, 4<<20)
			ts := startServer(t, Config{Source: src, Compression: CompressionZstd, FrameCacheBytes: tc.cacheSize})
			res := ts.create(t, 0, 0)
			m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
			req := &snapsyncv1.FetchChunksRequest{SnapshotId: res.GetSnapshot().GetSnapshotId(), Ranges: allRanges(m)}
			first, err := ts.fetch(context.Background(), t, m, req)
			if err != nil {
				t.Fatal(err)
			}
			after1 := ts.srv.Stats()
			second, err := ts.fetch(context.Background(), t, m, req)
			if err != nil {
				t.Fatal(err)
			}
			after2 := ts.srv.Stats()
			if first.wire != second.wire || first.zstd != second.zstd || first.zstd == 0 {
				t.Fatalf("followers got different streams: %+v vs %+v", first, second)
			}
			hits := after2.FrameHits - after1.FrameHits
			// The first follower compressed every chunk it tried (the rest
			// of a file whose chunks do not compress is sent raw untried);
			// the second finds each of those in the cache.
			if tc.wantHits && (hits == 0 || hits != after1.FrameMisses || after2.FrameMisses != after1.FrameMisses) {
				t.Fatalf("second follower: %d frame hits for the first's %d compressions, %d more compressions",
					hits, after1.FrameMisses, after2.FrameMisses-after1.FrameMisses)
			}
			if !tc.wantHits && hits != 0 {
				t.Fatalf("cache off: %d hits", hits)
			}
		})
	}
}

// BenchmarkFourFollowersZstd: four followers fetch one checkpoint at once
// with zstd, with the frame cache and without (the baseline): with it the
// chunks are compressed once, not four times.
func BenchmarkFourFollowersZstd(b *testing.B) {
	for _, bc := range []struct {
		name  string
		bytes int64
	}{{"frame-cache", 0}, {"no-cache", -1}} {
		b.Run(bc.name, func(b *testing.B) {
			src := openPebble(b, 16<<20)
			ts := startServer(b, Config{Source: src, Compression: CompressionZstd, FrameCacheBytes: bc.bytes})
			res := ts.create(b, 0, 0)
			m := ts.manifest(b, res.GetSnapshot().GetSnapshotId())
			req := &snapsyncv1.FetchChunksRequest{SnapshotId: res.GetSnapshot().GetSnapshotId(), Ranges: allRanges(m)}
			b.SetBytes(4 * m.TotalBytes())
			b.ResetTimer()
			for range b.N {
				errs := make(chan error, 4)
				for range 4 {
					go func() { _, err := ts.fetch(context.Background(), b, m, req); errs <- err }()
				}
				for range 4 {
					if err := <-errs; err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkFetchRaw: one follower fetches a checkpoint raw, the hot path
// where chunks go from the file straight into the send buffer
// (rpccodec.ChunkFrame).
func BenchmarkFetchRaw(b *testing.B) {
	src := openPebble(b, 16<<20)
	ts := startServer(b, Config{Source: src, Compression: CompressionNone})
	res := ts.create(b, 0, 0)
	m := ts.manifest(b, res.GetSnapshot().GetSnapshotId())
	req := &snapsyncv1.FetchChunksRequest{SnapshotId: res.GetSnapshot().GetSnapshotId(), Ranges: allRanges(m)}
	b.SetBytes(m.TotalBytes())
	b.ResetTimer()
	for range b.N {
		if _, err := ts.fetch(context.Background(), b, m, req); err != nil {
			b.Fatal(err)
		}
	}
}
