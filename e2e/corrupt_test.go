package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// TestCorruptionOnTheWire puts a bit-flipping proxy between client and
// server: one flipped bit is detected and re-fetched and the install
// succeeds; corruption on every transfer makes the install fail with a clear
// error and leaves the old DB byte for byte as it was.
func TestCorruptionOnTheWire(t *testing.T) {
	t.Parallel()
	leader := filepath.Join(t.TempDir(), "leader")
	writePebble(t, leader, sampledb.Fill{Seed: 4, Bytes: 24 << 20})
	want := pristine(t, leader)
	srv := startServe(t, "pebble:"+leader, "--compression", "none")

	t.Run("single flipped bit is re-fetched", func(t *testing.T) {
		var flipped atomic.Bool
		px := startProxy(t, srv.Addr, func(off int64) bool {
			return off >= 8<<20 && flipped.CompareAndSwap(false, true)
		})
		dest := filepath.Join(t.TempDir(), "db")
		res := install(t, px.URL(), dest)
		if !flipped.Load() {
			t.Fatal("the proxy flipped nothing; the test proves nothing")
		}
		t.Logf("install through one flipped bit: %+v", res)
		comparePebble(t, want, dest)
	})

	t.Run("persistent corruption fails and keeps the old DB", func(t *testing.T) {
		dest := filepath.Join(t.TempDir(), "db")
		writePebble(t, dest, sampledb.Fill{Seed: 99, Bytes: 2 << 20}) // the follower's old DB
		before := treeFiles(t, dest)
		// Flip a bit in every 64 KiB the server sends, after the manifest.
		var flips atomic.Int64
		px := startProxy(t, srv.Addr, func(off int64) bool {
			if off > 1<<20 && off%(64<<10) == 0 {
				flips.Add(1)
				return true
			}
			return false
		})
		// The staging area must be beside dest: anywhere else is a config
		// error, which would fail the install before any chunk travels.
		r := runSnapsync(context.Background(), nil, "install", "--from", px.URL(), "--dest", dest,
			"--staging-dir", filepath.Join(filepath.Dir(dest), "staging"))
		if r.Err == nil {
			t.Fatal("install through persistent corruption succeeded")
		}
		msg := lastLine(r.Stderr)
		t.Logf("error line after %d flipped bits: %s", flips.Load(), msg)
		if !strings.HasPrefix(msg, "snapsync: ") {
			t.Fatalf("last stderr line is not the error: %q", msg)
		}
		// A flip in a chunk's bytes fails its digest; a flip in a message's
		// framing (the chunk's index, its encoding) is a protocol violation.
		// Either way the client refuses it; anything else (a config error, a
		// timeout) would mean no corruption reached it.
		refused := strings.Contains(msg, "verification failed") || strings.Contains(msg, "server error")
		if flips.Load() == 0 || !refused {
			t.Fatalf("the install failed after %d flipped bits with %q, want a verification failure or a protocol violation",
				flips.Load(), msg)
		}
		if diff := sameContent(before, treeFiles(t, dest)); diff != "" {
			t.Fatalf("old DB changed: %s", diff)
		}
	})
}
