package durable

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestReadBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small, big, link, fifo := filepath.Join(dir, "small"), filepath.Join(dir, "big"), filepath.Join(dir, "link"), filepath.Join(dir, "fifo")
	if err := os.WriteFile(small, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(small, link); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, fsys := range []StageFS{OS(), Beneath(mustOpenDir(t, "/"))} {
		if b, err := ReadBounded(fsys, small, 5); err != nil || string(b) != "hello" {
			t.Errorf("%T small: %q, %v", fsys, b, err)
		}
		if _, err := ReadBounded(fsys, big, 99); !errors.Is(err, ErrNotBounded) {
			t.Errorf("%T big: %v, want ErrNotBounded", fsys, err)
		}
		if _, err := ReadBounded(fsys, link, 99); err == nil {
			t.Errorf("%T followed a symlink", fsys)
		}
		if _, err := ReadBounded(fsys, fifo, 99); !errors.Is(err, ErrNotBounded) {
			t.Errorf("%T fifo: %v, want ErrNotBounded", fsys, err)
		}
		if _, err := ReadBounded(fsys, filepath.Join(dir, "missing"), 99); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%T missing: %v, want fs.ErrNotExist", fsys, err)
		}
	}
}

func TestWriteStream(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	put := func(s string, fail error) error {
		return WriteStream(p, ".tmp-", 0o640, func(w io.Writer) error {
			if _, err := io.WriteString(w, s); err != nil {
				return err
			}
			return fail
		})
	}
	if err := put("one", nil); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	if err := put("two", boom); !errors.Is(err, boom) {
		t.Fatalf("WriteStream = %v, want the writer's error", err)
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "one" {
		t.Fatalf("after a failed write: %q, %v; want the first content", b, err)
	}
	if fi, err := os.Stat(p); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, %v; want 0640", fi.Mode(), err)
	}
	if names, err := os.ReadDir(dir); err != nil || len(names) != 1 {
		t.Fatalf("%d entries (%v): a temporary file was left", len(names), err)
	}
}

func mustOpenDir(tb testing.TB, path string) *Dir {
	tb.Helper()
	d, err := OpenDir(path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { d.Close() })
	return d
}

// TestReadFileBounded: through an FS without OpenFile, a regular file within
// the limit is read; a symlink, a directory and a file over the limit are
// refused with ErrNotBounded; a missing one is fs.ErrNotExist.
func TestReadFileBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	small, big := filepath.Join(dir, "small"), filepath.Join(dir, "big")
	if err := os.WriteFile(small, []byte("ok"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(big, make([]byte, 100), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(small, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	testCases := []struct {
		name string
		want error
	}{
		{"small", nil},
		{"big", ErrNotBounded},
		{"link", ErrNotBounded},
		{".", ErrNotBounded},
		{"missing", fs.ErrNotExist},
	}
	for _, tc := range testCases {
		b, err := ReadFileBounded(OS(), filepath.Join(dir, tc.name), 10)
		if !errors.Is(err, tc.want) || (tc.want == nil && string(b) != "ok") {
			t.Errorf("%s: %q, %v; want %v", tc.name, b, err, tc.want)
		}
	}
}
