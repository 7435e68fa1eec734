package client

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/snapsync/snapsync/internal/testdb"
	"github.com/snapsync/snapsync/server"
)

// TestHookPoints records the fault points of a whole install: each documented
// point is reached, in the documented order.
func TestHookPoints(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 1<<20)
	ts := startServer(t, server.Config{Source: checkpointSource(t, leader, 1)}, "")
	dest := filepath.Join(t.TempDir(), "db")
	oldDest(t, dest)
	cfg := testConfig(t, dest)
	var mu sync.Mutex
	var points []string
	cfg.Hook = func(point string) error {
		mu.Lock()
		defer mu.Unlock()
		if n := len(points); n == 0 || points[n-1] != point { // runs of one point count once
			points = append(points, point)
		}
		return nil
	}
	if _, err := Install(context.Background(), ts.url, 0, cfg); err != nil {
		t.Fatal(err)
	}
	got := strings.Join(points, " ")
	t.Logf("points: %s", got)
	// Files are synced as they complete, so chunk-written and file-synced
	// interleave (an empty file is synced before any chunk is written).
	order := []string{"manifest-fetched", "chunk-written", "staged", "before-swap", "after-swap", "old-removed", "done"}
	last := -1
	for _, p := range order {
		i := slices.Index(points, p)
		if i < 0 || i < last {
			t.Fatalf("point %s missing or out of order in %q", p, got)
		}
		last = i
	}
	staged := slices.Index(points, "staged")
	for _, p := range []string{"chunk-written", "file-synced"} {
		if i := slices.Index(points, p); i < 0 || slices.Contains(points[staged:], p) {
			t.Fatalf("point %s missing or after staged in %q", p, got)
		}
	}
	if points[0] != "manifest-fetched" || points[len(points)-1] != "done" {
		t.Fatalf("points %q do not start at manifest-fetched and end at done", got)
	}
}

// TestBusy: while one call holds the staging area, every other call on the
// same Dest fails at once with ErrBusy and changes nothing.
func TestBusy(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 1<<20)
	ts := startServer(t, server.Config{Source: checkpointSource(t, leader, 1)}, "")
	dest := filepath.Join(t.TempDir(), "db")
	before := oldDest(t, dest)
	cfg := testConfig(t, dest)
	inside, release := make(chan struct{}), make(chan struct{})
	holder := cfg
	holder.Hook = func(point string) error {
		if point == "manifest-fetched" {
			close(inside)
			<-release
			return errStop
		}
		return nil
	}
	done := make(chan error, 1)
	go func() { _, err := Prepare(context.Background(), ts.url, 0, holder); done <- err }()
	<-inside
	ctx := context.Background()
	calls := map[string]func() error{
		"Install": func() error { _, err := Install(ctx, ts.url, 0, cfg); return err },
		"Prepare": func() error { _, err := Prepare(ctx, ts.url, 0, cfg); return err },
		"Commit":  func() error { _, err := Commit(ctx, cfg); return err },
		"Abort":   func() error { return Abort(ctx, cfg, false) },
		"Recover": func() error { return Recover(ctx, cfg) },
	}
	for name, call := range calls {
		if err := call(); !errors.Is(err, ErrBusy) {
			t.Errorf("%s while busy: %v, want ErrBusy", name, err)
		}
	}
	close(release)
	if err := <-done; !errors.Is(err, errStop) {
		t.Fatalf("holder: %v", err)
	}
	sameTree(t, before, readTree(t, dest))
	if _, err := Install(ctx, ts.url, 0, cfg); err != nil {
		t.Fatalf("Install once free: %v", err)
	}
	testdb.CheckSameDB(t, leader.DB(), dest)
}
