package client

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

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
	once := func(n int64) bool { return n == 3 }
	always := func(int64) bool { return true }
	testCases := []struct {
		name        string
		compression snapsyncv1.Compression
		corrupt     func(int64) bool
		ok          bool
		mismatch    bool // the final error carries a *verify.MismatchError
	}{
		{"raw once", snapsyncv1.Compression_COMPRESSION_NONE, once, true, false},
		{"zstd once", snapsyncv1.Compression_COMPRESSION_ZSTD, once, true, false},
		{"raw always", snapsyncv1.Compression_COMPRESSION_NONE, always, false, true},
		{"zstd always", snapsyncv1.Compression_COMPRESSION_ZSTD, always, false, false},
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
			t.Logf("flipped %d bits in %d chunk messages: %v", px.flipped.Load(), px.chunks.Load(), err)
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
				checkSameDB(t, leader.DB(), dest)
				return
			}
			if !errors.Is(err, ErrVerify) {
				t.Fatalf("install through a corrupting proxy: %v, want ErrVerify", err)
			}
			var me *verify.MismatchError
			if errors.As(err, &me) != tc.mismatch {
				t.Fatalf("error %v: carries a *verify.MismatchError: %v, want %v", err, !tc.mismatch, tc.mismatch)
			}
			if tc.mismatch && me.Want == me.Got {
				t.Fatalf("mismatch error with equal digests: %v", me)
			}
			if got := px.flipped.Load(); got < int64(DefaultChunkRetries+1) {
				t.Fatalf("failed after %d corrupted chunks, want at least %d tries", got, DefaultChunkRetries+1)
			}
			sameTree(t, before, readTree(t, dest))
		})
	}
}
