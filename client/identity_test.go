package client

import (
	"context"
	"errors"
	"maps"
	"path/filepath"
	"testing"

	"github.com/snapsync/snapsync/server"
)

// TestReusedInodeIsNotTheStagedTree: state.json records stage/'s identity
// with its birth time, so a directory at the same device and inode but born
// at another time (stage/ deleted and its inode reused) is not taken for the
// staged tree: Commit discards the state instead of swapping it in.
func TestReusedInodeIsNotTheStagedTree(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	ts := startServer(t, server.Config{Source: goldenSource(t)}, "")
	dest := filepath.Join(t.TempDir(), "db")
	before := oldDest(t, dest)
	cfg := testConfig(t, dest)
	if _, err := Prepare(ctx, ts.url, 0, cfg); err != nil {
		t.Fatal(err)
	}
	if err := setup(&cfg); err != nil {
		t.Fatal(err)
	}
	l := newLayout(&cfg)
	st, err := readState(l)
	if err != nil {
		t.Fatal(err)
	}
	if st.Staged.Birth == 0 {
		t.Skip("this filesystem records no birth time")
	}
	id, err := lstatID(l.fs, l.stage)
	if err != nil || !id.Same(st.Staged) {
		t.Fatalf("stage/ is %s, state says %s (%v)", id, st.Staged, err)
	}
	reused := st.Staged
	reused.Birth++
	if reused.Same(id) {
		t.Fatal("a FileID with another birth time is the same file")
	}
	st.Staged = reused // what a stage/ deleted and recreated on the same inode looks like
	if err := writeState(l, st); err != nil {
		t.Fatal(err)
	}
	if _, err := Commit(ctx, cfg); !errors.Is(err, ErrNotStaged) {
		t.Fatalf("commit: %v, want ErrNotStaged", err)
	}
	if got := readTree(t, dest); !maps.Equal(got, before) {
		t.Fatalf("dest changed: %v", got)
	}
}
