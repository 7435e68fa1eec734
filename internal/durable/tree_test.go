package durable

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
)

// TestRemoveTreeConcurrent removes a tree of many entries, removers at a
// time, through a hooked FS: everything goes, the parent is fsynced last;
// an entry that cannot be removed fails the call and the tree's own
// directory stays, with what was not removed yet.
func TestRemoveTreeConcurrent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		refuse string // the entry whose removal fails ("": none)
	}{
		{"all removed", ""},
		{"one entry refused", "f017"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			root := filepath.Join(base, "old")
			if err := os.MkdirAll(filepath.Join(root, "sub", "deep"), 0o755); err != nil {
				t.Fatal(err)
			}
			for i := range 40 {
				writeFile(t, filepath.Join(root, fmt.Sprintf("f%03d", i)), strings.Repeat("x", i*1000))
			}
			writeFile(t, filepath.Join(root, "sub", "deep", "g"), "g")
			refused := errors.New("refused")
			var lastOp atomic.Value
			fsys := WithHook(OS(), func(op string) error {
				lastOp.Store(op)
				if tc.refuse != "" && op == "remove-all "+filepath.Join(root, tc.refuse) {
					return refused
				}
				return nil
			})
			err := RemoveTree(context.Background(), fsys, root)
			if tc.refuse != "" {
				if !errors.Is(err, refused) {
					t.Fatalf("RemoveTree = %v, want the refusal", err)
				}
				if _, err := os.Stat(filepath.Join(root, tc.refuse)); err != nil {
					t.Fatalf("the refused entry: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if _, err := os.Lstat(root); !errors.Is(err, os.ErrNotExist) {
				t.Fatalf("tree still there: %v", err)
			}
			if got, want := lastOp.Load(), "sync-dir "+base; got != want {
				t.Fatalf("last operation %q, want %q", got, want)
			}
		})
	}
}
