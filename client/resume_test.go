package client

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/snapsync/snapsync/internal/testdb"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/source"
)

// TestResumeAfterCancel cancels an install half-way (from its Progress
// callback) and runs it again: the second run fetches only what the first
// did not, so the total on the wire stays close to a clean install's. With a
// source that serves the same snapshot again the staging resumes in place;
// with one that makes a new checkpoint of the same data, the earlier staging
// becomes a source of reusable chunks.
func TestResumeAfterCancel(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 8<<20)
	testCases := []struct {
		name   string
		src    source.Source
		window int // Config.PlanWindow
	}{
		{"same snapshot", checkpointSource(t, leader, 3), 0},
		{"new snapshot of the same data", leader, 0},
		{"same snapshot, planned 8 chunks at a time", checkpointSource(t, leader, 4), 8},
		{"new snapshot of the same data, planned 8 chunks at a time", leader, 8},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			ts := startServer(t, server.Config{Source: tc.src, Compression: server.CompressionNone, RateLimit: 10 << 20}, "")
			ctx := context.Background()
			clean, err := Install(ctx, ts.url, 0, testConfig(t, filepath.Join(t.TempDir(), "clean")))
			if err != nil {
				t.Fatal(err)
			}
			dest := filepath.Join(t.TempDir(), "db")
			cfg := testConfig(t, dest)
			cfg.PlanWindow = tc.window
			var firstFetched atomic.Int64
			cctx, cancel := context.WithCancelCause(ctx)
			defer cancel(nil)
			cfg.Progress = func(p Progress) {
				firstFetched.Store(p.BytesFetched)
				if p.BytesFetched >= clean.BytesFetched/2 {
					cancel(errStop)
				}
			}
			if _, err := Install(cctx, ts.url, 0, cfg); !errors.Is(err, errStop) {
				t.Fatalf("cancelled install: %v, want the cancellation cause", err)
			}
			if f := firstFetched.Load(); f >= clean.BytesFetched*9/10 {
				t.Fatalf("the first run fetched %d of %d bytes before it stopped: nothing left to resume", f, clean.BytesFetched)
			}
			cfg.Progress = nil
			res, err := Install(ctx, ts.url, 0, cfg)
			if err != nil {
				t.Fatal(err)
			}
			testdb.CheckSameDB(t, leader.DB(), dest)
			total := firstFetched.Load() + res.BytesFetched
			t.Logf("clean %d; first run %d, second run %d (reused %d): %.2fx",
				clean.BytesFetched, firstFetched.Load(), res.BytesFetched, res.BytesReused,
				float64(total)/float64(clean.BytesFetched))
			if res.BytesReused == 0 || total > clean.BytesFetched*11/10 {
				t.Fatalf("interrupted + resumed fetched %d bytes, a clean install %d", total, clean.BytesFetched)
			}
		})
	}
}
