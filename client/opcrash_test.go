package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/server"
)

// errCrash is what every operation after a simulated crash returns.
var errCrash = errors.New("test: simulated crash")

// crashAt returns an FS that fails the k-th durable operation and every one
// after it, as a process that died there would never run them (k <= 0:
// never), counting operations in n.
func crashAt(k int64, n *atomic.Int64) func(durable.StageFS) durable.StageFS {
	return func(fsys durable.StageFS) durable.StageFS {
		return durable.WithHook(fsys, func(string) error {
			if i := n.Add(1); k > 0 && i >= k {
				return errCrash
			}
			return nil
		})
	}
}

// TestCrashAtEveryOp stops an install at each of its durable operations in
// turn: Dest must then hold the old tree or the new one, whole, and a second
// Install, on the real FS, must leave the new one.
func TestCrashAtEveryOp(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{Source: goldenSource(t)}, "")
	install := func(t *testing.T, wrap func(durable.StageFS) durable.StageFS) (string, map[string]string, error) {
		dest := filepath.Join(t.TempDir(), "db")
		old := oldDest(t, dest)
		cfg := testConfig(t, dest)
		cfg.Streams = 1
		cfg.wrapFS = wrap
		_, err := Install(context.Background(), ts.url, 0, cfg)
		return dest, old, err
	}
	var total atomic.Int64
	dest, _, err := install(t, crashAt(0, &total))
	if err != nil {
		t.Fatal(err)
	}
	want := readTree(t, dest)
	for k := int64(1); k <= total.Load(); k++ {
		t.Run(fmt.Sprintf("op%d", k), func(t *testing.T) {
			t.Parallel()
			var n atomic.Int64
			dest, old, err := install(t, crashAt(k, &n))
			// Some callers report the crashed operation's error with %v.
			if err == nil || n.Load() < k {
				t.Fatalf("install: %v after %d operations, want the crash at %d", err, n.Load(), k)
			}
			if got := readTree(t, dest); !maps.Equal(got, old) && !maps.Equal(got, want) {
				t.Fatalf("dest after a crash at op %d is neither tree: %v", k, got)
			}
			cfg := testConfig(t, dest)
			if _, err := Install(context.Background(), ts.url, 0, cfg); err != nil {
				t.Fatalf("install after the crash: %v", err)
			}
			if got := readTree(t, dest); !maps.Equal(got, want) {
				t.Fatalf("dest after the second install: %v", got)
			}
		})
	}
}
