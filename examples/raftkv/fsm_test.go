package raftkv

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// newTestFSM returns an FSM over a fresh DB in a temporary data dir whose
// sidecar is unreachable, closed when the test ends.
func newTestFSM(tb testing.TB) (*fsm, Config) {
	tb.Helper()
	cfg := Config{
		ID: "t", DataDir: tb.TempDir(), SidecarPeerURL: unreachable, SidecarLocalURL: unreachable,
		Logger: testLogger(tb, "fsm"),
	}
	cfg.EnsureDefaults()
	if err := os.MkdirAll(cfg.CheckpointDir, 0o755); err != nil {
		tb.Fatal(err)
	}
	st, err := openStore(dbDir(cfg.DataDir), zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	f, err := newFSM(context.Background(), &cfg, st, newSidecarClient(cfg.HTTPClient, cfg.SidecarLocalURL))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := f.close(); err != nil {
			tb.Error(err)
		}
	})
	return f, cfg
}

// applyPut applies key=value at index through f as Raft would.
func applyPut(tb testing.TB, f *fsm, index uint64, key, value string) any {
	tb.Helper()
	b, err := encodeCommand(command{Key: []byte(key), Value: []byte(value)})
	if err != nil {
		tb.Fatal(err)
	}
	return f.Apply(&raft.Log{Index: index, Term: 2, Type: raft.LogCommand, Data: b})
}

func TestFSMApply(t *testing.T) {
	t.Parallel()
	f, cfg := newTestFSM(t)
	for i := uint64(1); i <= 5; i++ {
		if res := applyPut(t, f, i, "k"+string(rune('0'+i)), "v1"); res != nil {
			t.Fatalf("apply %d: %v", i, res)
		}
	}
	// A replayed entry the DB already reflects is skipped.
	if res := applyPut(t, f, 3, "k3", "replayed"); res != nil {
		t.Fatal(res)
	}
	if v, err := f.get([]byte("k3")); err != nil || string(v) != "v1" {
		t.Fatalf("k3 = %q, %v; want v1", v, err)
	}
	// Entries that are not commands change nothing; a malformed command is
	// refused alike on every node, and its index is still recorded.
	if res := f.Apply(&raft.Log{Index: 6, Term: 2, Type: raft.LogNoop}); res != nil || f.index.Load() != 5 {
		t.Fatalf("noop: %v, index %d", res, f.index.Load())
	}
	res := f.Apply(&raft.Log{Index: 7, Term: 3, Type: raft.LogCommand, Data: []byte{9}})
	if err, _ := res.(error); !errors.Is(err, ErrCommand) {
		t.Fatalf("malformed command: %v, want ErrCommand", res)
	}
	if f.index.Load() != 7 || f.term.Load() != 3 {
		t.Fatalf("applied %d/%d, want term 3 index 7", f.term.Load(), f.index.Load())
	}
	if _, err := f.get([]byte("nope")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v, want ErrNotFound", err)
	}
	// The DB itself says which index it reflects.
	if err := f.close(); err != nil {
		t.Fatal(err)
	}
	st, err := openStore(dbDir(cfg.DataDir), zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	term, index, err := st.applied()
	if err := errors.Join(err, st.close()); err != nil {
		t.Fatal(err)
	}
	if term != 3 || index != 7 {
		t.Fatalf("reopened DB reflects %d/%d, want 3/7", term, index)
	}
}

func TestFSMRestoreRefusesWhatIsNotAhead(t *testing.T) {
	t.Parallel()
	f, _ := newTestFSM(t)
	for i := uint64(1); i <= 10; i++ {
		applyPut(t, f, i, "key", "v")
	}
	testCases := []struct {
		name    string
		pointer string
		wantErr error // nil: kept the DB without asking the sidecar
	}{
		{"behind", `{"sidecar_url":"http://127.0.0.1:1","term":2,"index":4}`, nil},
		{"equal", `{"sidecar_url":"http://127.0.0.1:1","term":2,"index":10}`, nil},
		// The sidecar is unreachable: Prepare fails and the old DB stays.
		{"ahead", `{"sidecar_url":"http://127.0.0.1:1","term":2,"index":11}`, errAny},
		{"malformed", `{"sidecar_url":"ftp://h","index":99}`, ErrPointer},
	}
	for _, tc := range testCases {
		err := f.Restore(io.NopCloser(strings.NewReader(tc.pointer)))
		switch {
		case tc.wantErr == nil && err != nil:
			t.Fatalf("%s: %v, want the DB kept", tc.name, err)
		case tc.wantErr == errAny && err == nil, tc.wantErr != nil && tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
			t.Fatalf("%s: %v, want %v", tc.name, err, tc.wantErr)
		}
		if v, err := f.get([]byte("key")); err != nil || string(v) != "v" || f.index.Load() != 10 {
			t.Fatalf("%s: after restore key=%q, %v, index %d", tc.name, v, err, f.index.Load())
		}
	}
	if _, ok := f.lastInstall(); ok {
		t.Fatal("an install was recorded")
	}
}

// errAny stands for any error in a table.
var errAny = errors.New("any error")

func TestFSMSnapshot(t *testing.T) {
	t.Parallel()
	f, cfg := newTestFSM(t)
	snaps := raft.NewInmemSnapshotStore()

	// Nothing applied: the snapshot is a pointer alone and persists.
	ptr := persist(t, f, snaps, nil)
	if ptr.Index != 0 || ptr.SidecarURL != unreachable {
		t.Fatalf("empty snapshot: %+v", ptr)
	}

	// With data, a checkpoint is made; the sidecar cannot take it, so Persist
	// fails and Release removes it.
	for i := uint64(1); i <= 3; i++ {
		applyPut(t, f, i, "key", "v")
	}
	persist(t, f, snaps, errAny)
	if ents, err := os.ReadDir(cfg.CheckpointDir); err != nil || len(ents) != 0 {
		t.Fatalf("checkpoints left: %v, %v", ents, err)
	}

	// What the sidecar already holds is not checkpointed again.
	f.registered.Store(3)
	if ptr := persist(t, f, snaps, nil); ptr.Index != 3 || ptr.Term != 2 {
		t.Fatalf("pointer %+v, want index 3 term 2", ptr)
	}
}

// persist takes a snapshot of f into snaps and returns the pointer it
// stored, or checks that it failed when wantErr is set.
func persist(tb testing.TB, f *fsm, snaps *raft.InmemSnapshotStore, wantErr error) Pointer {
	tb.Helper()
	s, err := f.Snapshot()
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Release()
	sink, err := snaps.Create(raft.SnapshotVersionMax, f.index.Load(), f.term.Load(), raft.Configuration{}, 1, nil)
	if err != nil {
		tb.Fatal(err)
	}
	err = s.Persist(sink)
	if wantErr != nil {
		if err == nil {
			tb.Fatal("persist succeeded, want an error")
		}
		return Pointer{}
	}
	if err != nil {
		tb.Fatal(err)
	}
	_, rc, err := snaps.Open(sink.ID())
	if err != nil {
		tb.Fatal(err)
	}
	defer rc.Close() //nolint:errcheck // an in-memory reader.
	b, err := io.ReadAll(rc)
	if err != nil {
		tb.Fatal(err)
	}
	p, err := DecodePointer(bytes.NewReader(b))
	if err != nil {
		tb.Fatalf("stored pointer %q: %v", b, err)
	}
	return p
}

func TestFSMSnapshotCheckpointIsADB(t *testing.T) {
	t.Parallel()
	f, cfg := newTestFSM(t)
	applyPut(t, f, 1, "a", "1")
	applyPut(t, f, 2, "b", "2")
	s, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	dir := s.(*pointerSnapshot).dir
	if filepath.Dir(dir) != cfg.CheckpointDir {
		t.Fatalf("checkpoint in %s, want under %s", dir, cfg.CheckpointDir)
	}
	applyPut(t, f, 3, "c", "3")                                      // after the checkpoint: not in it
	st, err := openStore(filepath.Join(dir, dbEntry), zerolog.Nop()) // shaped like a data dir
	if err != nil {
		t.Fatal(err)
	}
	_, index, err := st.applied()
	var keys []string
	err = errors.Join(err, st.each(func(k, _ []byte) error { keys = append(keys, string(k)); return nil }))
	if err := errors.Join(err, st.close()); err != nil {
		t.Fatal(err)
	}
	if index != 2 || strings.Join(keys, ",") != "a,b" {
		t.Fatalf("checkpoint reflects index %d with keys %v, want 2 with a,b", index, keys)
	}
	s.Release()
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("an unregistered checkpoint outlived Release: %v", err)
	}
}
