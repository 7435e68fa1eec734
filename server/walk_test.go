package server

import (
	"context"
	"slices"
	"testing"

	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/durable"
)

// TestWalkCanonicalOrder: the walk lists files in byte order of their
// paths, which is not a directory walk's order where a name sorts before
// "/" ("a.txt" and "a-b/c" before "a/b"), so the build needs no sort.
func TestWalkCanonicalOrder(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, map[string]int{"a-b/c": 1, "a.txt": 1, "a/b.c": 1, "a/b/d": 1, "a0": 0, "b/a.x": 1, "b/a/x": 1})
	want := []string{"a-b/c", "a.txt", "a/b.c", "a/b/d", "a0", "b/a.x", "b/a/x"}
	tr, err := walkTree(context.Background(), root, testChunkSize, 2)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i := range tr.files() {
		got = append(got, tr.paths.at(i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("walk order %q, want %q", got, want)
	}
	if _, moved := tr.paths.order(); moved {
		t.Fatal("the walk's order needs sorting")
	}
	var dirs []string
	for _, d := range tr.sorted().dirs {
		dirs = append(dirs, d.Path)
	}
	if want := []string{"a", "a-b", "a/b", "b", "b/a"}; !slices.Equal(dirs, want) {
		t.Fatalf("dirs %q, want %q", dirs, want)
	}
}

// TestTreeSorted: a tree out of order is sorted with each hard-link group
// linked to its first path in the new order.
func TestTreeSorted(t *testing.T) {
	t.Parallel()
	tr := &tree{}
	for i, p := range []string{"d", "b", "c", "a"} {
		tr.paths.add(p)
		tr.modes.add(0o644)
		tr.keys.add(digestcache.Key{ID: durable.FileID{Ino: uint64(i)}})
	}
	for _, l := range []int32{-1, 0, -1, 0} { // d, b, a are one inode; c alone
		tr.links.add(l)
	}
	s := tr.sorted()
	var got []string
	for i := range s.files() {
		got = append(got, s.paths.at(i))
	}
	if want := []string{"a", "b", "c", "d"}; !slices.Equal(got, want) {
		t.Fatalf("sorted %q, want %q", got, want)
	}
	var links []int32
	for i := range s.links.len() {
		links = append(links, s.links.at(i))
	}
	if want := []int32{-1, 0, -1, 0}; !slices.Equal(links, want) {
		t.Fatalf("links %v, want %v", links, want)
	}
	if s.keys.at(0).ID.Ino != 3 || s.keys.at(3).ID.Ino != 0 {
		t.Fatal("keys not moved with their paths")
	}
}
