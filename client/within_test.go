//go:build linux

package client

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/snapsync/snapsync/internal/testtree"
	"github.com/snapsync/snapsync/server"
)

// TestWithinRefusesSymlink: with Config.Within, a directory between Within
// and Dest's parent that is a symlink (swapped in after the caller checked
// Dest) fails the install, and notes, instead of taking them outside
// Within; nothing is created there.
func TestWithinRefusesSymlink(t *testing.T) {
	t.Parallel()
	ts := startServer(t, server.Config{Source: goldenSource(t)}, "")
	base := t.TempDir()
	within, outside := filepath.Join(base, "allowed"), filepath.Join(base, "outside")
	for _, d := range []string{filepath.Join(within, "om.moved"), outside} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(outside, filepath.Join(within, "om")); err != nil {
		t.Fatal(err)
	}
	dest := filepath.Join(within, "om", "db")
	cfg := testConfig(t, dest)
	cfg.Within = within
	if _, err := Install(context.Background(), ts.url, 0, cfg); err == nil {
		t.Fatal("installed through a symlink below Within")
	} else {
		t.Logf("install: %v", err)
	}
	area := filepath.Join(within, "om", ".snapsync-db")
	if err := WriteNote(area, []byte("{}"), WithinDir(within)); err == nil {
		t.Fatal("wrote a note through a symlink below Within")
	}
	if _, err := ReadNote(area, WithinDir(within)); err == nil {
		t.Fatal("read a note through a symlink below Within")
	}
	if names := testtree.Names(t, outside); len(names) != 0 {
		t.Fatalf("outside Within now holds %q", names)
	}
	cfg.Dest = filepath.Join(within, "om.moved", "db") // no symlink on the way: works
	cfg.StagingDir = ""
	if _, err := Install(context.Background(), ts.url, 0, cfg); err != nil {
		t.Fatal(err)
	}
}
