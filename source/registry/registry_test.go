package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/snapsync/snapsync/source"
)

// makeCheckpoint writes a small checkpoint-like tree under root.
func makeCheckpoint(tb testing.TB, root, name string) string {
	tb.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(filepath.Join(dir, "sub"), 0o755); err != nil {
		tb.Fatal(err)
	}
	for _, f := range []string{"CURRENT", "MANIFEST-000001", "000001.sst", "sub/000002.sst"} {
		if err := os.WriteFile(filepath.Join(dir, f), []byte(name+f), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

func newSource(tb testing.TB, cfg Config) *Source {
	tb.Helper()
	if cfg.Root == "" {
		cfg.Root = tb.TempDir()
	}
	s, err := New(cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

func TestRegisterRejects(t *testing.T) {
	t.Parallel()
	s := newSource(t, Config{})
	outside := makeCheckpoint(t, t.TempDir(), "elsewhere")
	good := makeCheckpoint(t, s.root, "ok")
	withLink := makeCheckpoint(t, s.root, "symlinked")
	if err := os.Symlink("/etc/passwd", filepath.Join(withLink, "evil")); err != nil {
		t.Fatal(err)
	}
	empty := filepath.Join(s.root, "empty")
	if err := os.Mkdir(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	escape := filepath.Join(s.root, "escape")
	if err := os.Symlink(outside, escape); err != nil {
		t.Fatal(err)
	}
	testCases := []struct {
		name string
		dir  string
	}{
		{"relative", "ok"},
		{"outside root", outside},
		{"root itself", s.root},
		{"dotdot", filepath.Join(s.root, "..", filepath.Base(outside))},
		{"symlink escaping root", escape},
		{"symlink inside", withLink},
		{"empty", empty},
		{"missing", filepath.Join(s.root, "missing")},
		{"a file", filepath.Join(good, "CURRENT")},
	}
	for _, tc := range testCases {
		if err := s.Register(context.Background(), tc.dir, 1, 10, nil); !errors.Is(err, ErrRejected) {
			t.Errorf("%s: Register(%q) = %v, want ErrRejected", tc.name, tc.dir, err)
		}
	}
	if err := s.Register(context.Background(), good, 1, 10, nil); err != nil {
		t.Fatal(err)
	}
	if err := s.Register(context.Background(), makeCheckpoint(t, s.root, "older"), 1, 10, nil); !errors.Is(err, ErrRejected) {
		t.Errorf("registering an index that is not newer: %v", err)
	}
}

func TestCheckpointLinksNewestAndSupersedes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSource(t, Config{})
	work := t.TempDir()
	if _, err := s.Checkpoint(ctx, filepath.Join(work, "none"), 0); !errors.Is(err, source.ErrMinIndex) {
		t.Fatalf("no registration: %v", err)
	}
	first := makeCheckpoint(t, s.root, "c1")
	if err := s.Register(ctx, first, 2, 100, map[string]string{"node": "om1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Checkpoint(ctx, filepath.Join(work, "x"), 101); !errors.Is(err, source.ErrMinIndex) {
		t.Fatalf("min index beyond registered: %v", err)
	}
	ck, err := s.Checkpoint(ctx, filepath.Join(work, "a"), 100)
	if err != nil {
		t.Fatal(err)
	}
	if !ck.Owned || ck.Meta.Index != 100 || ck.Meta.Term != 2 || ck.Meta.Labels["node"] != "om1" {
		t.Fatalf("checkpoint %+v", ck)
	}
	if !sameInode(t, filepath.Join(first, "sub/000002.sst"), filepath.Join(ck.Dir, "sub/000002.sst")) {
		t.Fatal("checkpoint is not hard-linked to the registered tree")
	}
	second := makeCheckpoint(t, s.root, "c2")
	if err := s.Register(ctx, second, 2, 150, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(first); !os.IsNotExist(err) {
		t.Fatalf("superseded checkpoint not removed: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join(ck.Dir, "CURRENT")); err != nil || string(b) != "c1CURRENT" {
		t.Fatalf("the server's linked copy lost its data: %q %v", b, err)
	}
	// A restarted source remembers the newest registration.
	again := newSource(t, Config{Root: s.root})
	if ck, err := again.Checkpoint(ctx, filepath.Join(work, "b"), 150); err != nil || ck.Meta.Index != 150 {
		t.Fatalf("after restart: %+v %v", ck, err)
	}
}

func sameInode(tb testing.TB, a, b string) bool {
	tb.Helper()
	fa, err := os.Stat(a)
	if err != nil {
		tb.Fatal(err)
	}
	fb, err := os.Stat(b)
	if err != nil {
		tb.Fatal(err)
	}
	return fa.Sys().(*syscall.Stat_t).Ino == fb.Sys().(*syscall.Stat_t).Ino
}

func ExampleSource_Register() {
	root, _ := os.MkdirTemp("", "ckpts")
	defer os.RemoveAll(root)
	src, _ := New(Config{Root: root})
	dir := filepath.Join(root, "om.db-checkpoint-1042")
	_ = os.MkdirAll(dir, 0o755)
	_ = os.WriteFile(filepath.Join(dir, "CURRENT"), []byte("MANIFEST-000001\n"), 0o644)
	_ = os.WriteFile(filepath.Join(dir, "MANIFEST-000001"), []byte("m"), 0o644)
	err := src.Register(context.Background(), dir, 3, 1042, nil)
	fmt.Println(err)
	// Output: <nil>
}

// TestRegisterOMTree: an Ozone Manager's checkpoint holds its DB one level
// down (om.db/) beside snapshot DBs; a tree with no DB anywhere near the top
// is refused.
func TestRegisterOMTree(t *testing.T) {
	t.Parallel()
	s := newSource(t, Config{})
	om := filepath.Join(s.root, "om-ckpt")
	noDB := filepath.Join(s.root, "no-db")
	for _, f := range []string{
		filepath.Join(om, "om.db", "MANIFEST-000004"), filepath.Join(om, "om.db", "000001.sst"),
		filepath.Join(om, "db.snapshots", "checkpointState", "snap1", "MANIFEST-000002"),
		filepath.Join(noDB, "deep", "deeper", "MANIFEST-000001"),
	} {
		if err := os.MkdirAll(filepath.Dir(f), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Register(context.Background(), noDB, 1, 5, nil); !errors.Is(err, ErrRejected) {
		t.Fatalf("a tree with no DB near its top: %v, want ErrRejected", err)
	}
	if err := s.Register(context.Background(), om, 1, 5, nil); err != nil {
		t.Fatalf("an OM checkpoint tree: %v", err)
	}
}

// makerFunc adapts a function to Maker.
type makerFunc func(ctx context.Context, root string, minIndex uint64) (Made, error)

func (f makerFunc) Make(ctx context.Context, root string, minIndex uint64) (Made, error) {
	return f(ctx, root, minIndex)
}

// TestMaker: the maker is asked only when no registration reaches the index,
// and what it makes is registered and checked like any registration.
func TestMaker(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	calls := 0
	s := newSource(t, Config{Maker: makerFunc(func(_ context.Context, root string, minIndex uint64) (Made, error) {
		calls++
		if minIndex > 100 {
			return Made{}, errors.New("cannot")
		}
		return Made{Dir: makeCheckpoint(t, root, fmt.Sprint("m", calls)), Term: 1, Index: 100}, nil
	})})
	work := t.TempDir()
	if ck, err := s.Checkpoint(ctx, filepath.Join(work, "a"), 90); err != nil || ck.Meta.Index != 100 || calls != 1 {
		t.Fatalf("first: %+v %v, %d calls", ck, err, calls)
	}
	if _, err := s.Checkpoint(ctx, filepath.Join(work, "b"), 100); err != nil || calls != 1 {
		t.Fatalf("reached by the registration: %v, %d calls, want 1", err, calls)
	}
	if _, err := s.Checkpoint(ctx, filepath.Join(work, "c"), 101); !errors.Is(err, ErrRejected) || calls != 2 {
		t.Fatalf("maker fails: %v, %d calls", err, calls)
	}
}

// TestMakerCannotReach: a maker that can make nothing newer than what is
// registered answers a request beyond it with the index not reached (and
// the newest index), not as a failed maker; its duplicate copy is removed.
func TestMakerCannotReach(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	var made []string
	s := newSource(t, Config{Maker: makerFunc(func(_ context.Context, root string, _ uint64) (Made, error) {
		dir := makeCheckpoint(t, root, fmt.Sprint("m", len(made)))
		made = append(made, dir)
		return Made{Dir: dir, Term: 4, Index: 1200}, nil
	})})
	work := t.TempDir()
	if _, err := s.Checkpoint(ctx, filepath.Join(work, "a"), 1000); err != nil {
		t.Fatal(err)
	}
	_, err := s.Checkpoint(ctx, filepath.Join(work, "b"), 1000000)
	var mi *source.MinIndexError
	if !errors.As(err, &mi) || mi.Newest != 1200 || errors.Is(err, ErrRejected) {
		t.Fatalf("Checkpoint(1000000) = %v, want a MinIndexError naming 1200", err)
	}
	if _, err := os.Stat(made[1]); !os.IsNotExist(err) {
		t.Fatalf("the maker's duplicate %s was kept: %v", made[1], err)
	}
}
