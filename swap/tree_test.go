package swap

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSyncTree(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "t")
	writeTree(t, dir, newTree) // writeTree calls SyncTree
	if err := os.Symlink("/nonexistent", filepath.Join(dir, "snap", "dangling")); err != nil {
		t.Fatal(err)
	}
	if err := SyncTree(context.Background(), dir); err != nil {
		t.Fatalf("with a dangling symlink: %v", err)
	}
	if err := SyncTree(context.Background(), filepath.Join(dir, "none")); err == nil {
		t.Fatal("sync of a missing tree succeeded")
	}
	cause := errors.New("stop")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if err := SyncTree(ctx, dir); !errors.Is(err, cause) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestRemoveTree(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	testCases := []struct {
		name    string
		prepare func(p string)
	}{
		{"tree", func(p string) { writeTree(t, p, newTree) }},
		{"file", func(p string) { writeFile(t, p, "x") }},
		{"missing", func(string) {}},
	}
	for _, tc := range testCases {
		p := filepath.Join(base, tc.name)
		tc.prepare(p)
		err := RemoveTree(context.Background(), p)
		if _, serr := os.Lstat(p); err != nil || !os.IsNotExist(serr) {
			t.Errorf("%s: %v, then lstat %v", tc.name, err, serr)
		}
	}
	if err := RemoveTree(context.Background(), filepath.Join(base, "no", "parent")); err != nil {
		t.Fatalf("missing parent: %v", err)
	}
}

func TestRemoveTreeCancelled(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "t")
	writeTree(t, p, newTree)
	cause := errors.New("stop")
	ctx, cancel := context.WithCancelCause(context.Background())
	cancel(cause)
	if err := RemoveTree(ctx, p); !errors.Is(err, cause) {
		t.Fatalf("got %v", err)
	}
	if treeName(readTree(t, p)) != "new" {
		t.Fatal("cancelled removal removed something")
	}
}

// TestRemoveTreeSymlink: a symlink at the path is removed, never what it
// points to.
func TestRemoveTreeSymlink(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(target, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(target, "sub", "keep"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	if err := RemoveTree(context.Background(), link); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(link); !os.IsNotExist(err) {
		t.Fatalf("link still there: %v", err)
	}
	if _, err := os.Stat(filepath.Join(target, "sub", "keep")); err != nil {
		t.Fatalf("RemoveTree went through the symlink: %v", err)
	}
}
