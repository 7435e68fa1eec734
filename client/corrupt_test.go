package client

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/snapsync/snapsync/internal/testdb"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/verify"
)

// TestCorruptedChunks flips bits in chunk data on the wire. A chunk corrupted
// once is fetched again and the install succeeds; a stream corrupted for good
// fails the install with ErrVerify and leaves Dest as it was. With zstd a
// flipped bit may break the frame instead of changing the bytes: that too is
// a bad chunk.
func TestCorruptedChunks(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 3<<20)
	ts := startServer(t, server.Config{Source: checkpointSource(t, leader, 1)}, "")
	// once corrupts one chunk message: the first zstd-encoded one when the
	// test asks for zstd, else the fourth.
	once := func(zstd bool) func(int64, bool) bool {
		var done atomic.Bool
		return func(n int64, z bool) bool {
			return z == zstd && (zstd || n >= 3) && done.CompareAndSwap(false, true)
		}
	}
	always := func(int64, bool) bool { return true }
	testCases := []struct {
		name        string
		compression snapsyncv1.Compression
		corrupt     func(int64, bool) bool
		ok          bool
	}{
		{"raw once", snapsyncv1.Compression_COMPRESSION_NONE, once(false), true},
		{"zstd once", snapsyncv1.Compression_COMPRESSION_ZSTD, once(true), true},
		{"raw always", snapsyncv1.Compression_COMPRESSION_NONE, always, false},
		{"zstd always", snapsyncv1.Compression_COMPRESSION_ZSTD, always, false},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			px := startFlipProxy(t, ts.url, tc.corrupt)
			dest := filepath.Join(t.TempDir(), "db")
			before := oldDest(t, dest)
			cfg := testConfig(t, dest)
			cfg.Compression = tc.compression
			res, err := Install(context.Background(), px.url, 0, cfg)
			t.Logf("flipped %d bits in %d chunk messages (%d zstd): %v", px.flipped.Load(), px.chunks.Load(), px.zstd.Load(), err)
			raw := tc.compression == snapsyncv1.Compression_COMPRESSION_NONE
			if (px.zstd.Load() == 0) != raw {
				t.Fatalf("%d of %d chunk messages were zstd-encoded", px.zstd.Load(), px.chunks.Load())
			}
			if tc.ok {
				if err != nil {
					t.Fatal(err)
				}
				if px.flipped.Load() != 1 {
					t.Fatalf("the proxy flipped %d bits, want 1", px.flipped.Load())
				}
				if res.BytesFetched <= res.BytesTotal/4 {
					t.Fatalf("fetched only %d of %d bytes", res.BytesFetched, res.BytesTotal)
				}
				testdb.CheckSameDB(t, leader.DB(), dest)
				return
			}
			if !errors.Is(err, ErrVerify) {
				t.Fatalf("install through a corrupting proxy: %v, want ErrVerify", err)
			}
			// Raw bytes always decode, so they fail on their digest; a
			// corrupted zstd frame may fail to decode instead.
			var me *verify.MismatchError
			if raw && (!errors.As(err, &me) || me.Want == me.Got) {
				t.Fatalf("error %v does not carry the digest mismatch", err)
			}
			if got := px.flipped.Load(); got < int64(DefaultChunkRetries+1) {
				t.Fatalf("failed after %d corrupted chunks, want at least %d tries", got, DefaultChunkRetries+1)
			}
			sameTree(t, before, readTree(t, dest))
		})
	}
}
