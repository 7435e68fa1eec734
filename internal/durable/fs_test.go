package durable

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// TestExchange runs the real renameat2(RENAME_EXCHANGE) on this machine's
// filesystem: directories and a file trade places and identities.
func TestExchange(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	a, b, f := filepath.Join(base, "a"), filepath.Join(base, "b"), filepath.Join(base, "f")
	mkdir(t, a)
	mkdir(t, b)
	writeFile(t, filepath.Join(a, "x"), "in a")
	writeFile(t, filepath.Join(b, "x"), "in b")
	writeFile(t, f, "plain file")
	ids := func() (FileID, FileID) {
		ia, erra := OS().Lstat(a)
		ib, errb := OS().Lstat(b)
		if err := errors.Join(erra, errb); err != nil {
			t.Fatal(err)
		}
		return ia.ID, ib.ID
	}
	idA, idB := ids()
	if err := OS().Exchange(a, b); err != nil {
		t.Fatalf("exchange: %v (ext4 supports RENAME_EXCHANGE for directories)", err)
	}
	if gotA, gotB := ids(); gotA != idB || gotB != idA {
		t.Fatalf("ids after exchange %s %s, want %s %s", gotA, gotB, idB, idA)
	}
	if readFile(t, filepath.Join(a, "x")) != "in b" || readFile(t, filepath.Join(b, "x")) != "in a" {
		t.Fatal("contents not exchanged")
	}
	if err := OS().Exchange(a, f); err != nil {
		t.Fatalf("exchange dir and file: %v", err)
	}
	if got := readFile(t, a); got != "plain file" {
		t.Fatalf("after exchange with a file: %q", got)
	}
}

func TestExchangeMissing(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	a := filepath.Join(base, "a")
	mkdir(t, a)
	writeFile(t, filepath.Join(a, "x"), "third")
	for _, pair := range [][2]string{{a, filepath.Join(base, "none")}, {filepath.Join(base, "none"), a}} {
		err := OS().Exchange(pair[0], pair[1])
		if !errors.Is(err, fs.ErrNotExist) || errors.Is(err, ErrExchangeUnsupported) {
			t.Fatalf("exchange %s %s: got %v, want not-exist", pair[0], pair[1], err)
		}
	}
	if readFile(t, filepath.Join(a, "x")) != "third" {
		t.Fatal("failed exchange changed a")
	}
}

func TestLstat(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	f, link := filepath.Join(base, "f"), filepath.Join(base, "link")
	writeFile(t, f, "12345")
	if err := os.Symlink(f, link); err != nil {
		t.Fatal(err)
	}
	testCases := []struct {
		path     string
		wantMode fs.FileMode
		wantSize int64
	}{
		{f, 0, 5}, {base, fs.ModeDir, -1}, {link, fs.ModeSymlink, int64(len(f))},
	}
	for _, tc := range testCases {
		info, err := OS().Lstat(tc.path)
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode.Type() != tc.wantMode || tc.wantSize >= 0 && info.Size != tc.wantSize || info.ID.Ino == 0 {
			t.Errorf("%s: got %+v", tc.path, info)
		}
	}
	if _, err := OS().Lstat(filepath.Join(base, "none")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing path: %v", err)
	}
}

// TestLoggingAndHook checks the log line of every operation and that an
// operation the hook refuses does not run.
func TestLoggingAndHook(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	p := func(name string) string { return filepath.Join(base, name) }
	var log bytes.Buffer
	refuse := errors.New("refused")
	fsys := WithHook(WithLogging(OS(), &log, base), func(op string) error {
		if op == "rename "+p("x")+" "+p("y") {
			return refuse
		}
		return nil
	})
	steps := []func() error{
		func() error { return fsys.WriteFile(p("x"), []byte("data"), 0o600) },
		func() error { _, err := fsys.ReadFile(p("x")); return err },
		func() error { _, err := fsys.Lstat(p("x")); return err },
		func() error { return fsys.SyncDir(base) },
		func() error { return fsys.Rename(p("x"), p("z")) },
		func() error { return fsys.Exchange(p("z"), base) },
		func() error { return fsys.Link(p("z"), p("l")) },
		func() error { return syncOpen(fsys, p("l")) },
		func() error { return fsys.Remove(p("z")) },
		func() error { return fsys.RemoveAll(p("none")) },
		func() error { _, err := fsys.Lstat(p("none")); return err },
		func() error { return fsys.SyncDir("/proc/self/nonexistent-dir") },
	}
	for _, step := range steps {
		_ = step() // failures show in the log, which is what is compared
	}
	writeFile(t, p("x"), "again")
	if err := fsys.Rename(p("x"), p("y")); !errors.Is(err, refuse) {
		t.Fatalf("hooked rename: %v", err)
	}
	if _, err := os.Stat(p("x")); err != nil {
		t.Fatalf("refused rename ran: %v", err)
	}
	want := `write-file x
read-file x
lstat x
sync-dir .
rename x z
exchange z . -> error
link z l
sync l
remove z
remove-all none
lstat none -> not-exist
sync-dir /proc/self/nonexistent-dir -> not-exist
`
	if log.String() != want {
		t.Fatalf("log:\n%s\nwant:\n%s", log.String(), want)
	}
}

// syncOpen opens p and fsyncs it through fsys.
func syncOpen(fsys StageFS, p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return fsys.Sync(f)
}
