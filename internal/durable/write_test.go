package durable

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var errCrash = errors.New("simulated crash")

// TestWriteFileCrash stops WriteFile at each of its operations, either as a
// crash (that operation and every later one fail) or as a single failure, and
// checks the target holds the old content or the new one, whole, and that a
// single failure leaves no temporary file.
func TestWriteFileCrash(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name    string
		old     string // "" : no file before
		failAt  string // the operation that fails first
		crash   bool   // every operation after failAt fails too
		want    string // content of the target afterwards; "" : none
		wantTmp bool
	}{
		{name: "clean", old: "old", want: "new"},
		{name: "clean-new-file", want: "new"},
		{name: "crash-at-write", old: "old", failAt: "write-file", crash: true, want: "old"},
		{name: "crash-at-rename", old: "old", failAt: "rename", crash: true, want: "old", wantTmp: true},
		{name: "crash-at-rename-new-file", failAt: "rename", crash: true, wantTmp: true},
		{name: "crash-at-sync-dir", old: "old", failAt: "sync-dir", crash: true, want: "new"},
		{name: "write-fails", old: "old", failAt: "write-file", want: "old"},
		{name: "rename-fails", old: "old", failAt: "rename", want: "old"},
		{name: "rename-fails-new-file", failAt: "rename"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base := t.TempDir()
			p := filepath.Join(base, "state.json")
			if tc.old != "" {
				writeFile(t, p, tc.old)
			}
			var log bytes.Buffer
			failing := false
			fsys := WithHook(WithLogging(OS(), &log, base), func(op string) error {
				if tc.failAt != "" && strings.HasPrefix(op, tc.failAt+" ") && !failing {
					failing = true
					return errCrash
				}
				if failing && tc.crash {
					return errCrash
				}
				return nil
			})
			err := WriteFile(fsys, p, []byte("new"), 0o600)
			if (err != nil) != (tc.failAt != "") || err != nil && !errors.Is(err, errCrash) {
				t.Fatalf("write: %v", err)
			}
			got, rerr := os.ReadFile(p)
			switch {
			case tc.want == "" && !errors.Is(rerr, fs.ErrNotExist):
				t.Fatalf("target: %q, %v; want none", got, rerr)
			case tc.want != "" && string(got) != tc.want:
				t.Fatalf("target: %q, %v; want %q", got, rerr, tc.want)
			}
			if _, err := os.Lstat(p + TmpSuffix); (err == nil) != tc.wantTmp {
				t.Fatalf("temporary file present: %v, want %v (log:\n%s)", err == nil, tc.wantTmp, log.String())
			}
		})
	}
}

func TestWriteFileLog(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	var log bytes.Buffer
	if err := WriteFile(WithLogging(OS(), &log, base), filepath.Join(base, "f"), []byte("x"), 0o640); err != nil {
		t.Fatal(err)
	}
	want := "write-file f.tmp\nrename f.tmp f\nsync-dir .\n"
	if log.String() != want {
		t.Fatalf("log:\n%swant:\n%s", log.String(), want)
	}
	if fi, err := os.Stat(filepath.Join(base, "f")); err != nil || fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode: %v, %v", fi, err)
	}
}

// TestWriteFileNoFollow: a symlink planted at the temporary path is refused,
// never written through.
func TestWriteFileNoFollow(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	victim, p := filepath.Join(base, "victim"), filepath.Join(base, "f")
	writeFile(t, victim, "keep")
	if err := os.Symlink(victim, p+TmpSuffix); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(OS(), p, []byte("new"), 0o600); err == nil {
		t.Fatal("wrote through a symlink")
	}
	if got := readFile(t, victim); got != "keep" {
		t.Fatalf("victim changed: %q", got)
	}
}

func TestRemove(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	p := filepath.Join(base, "f")
	writeFile(t, p, "x")
	var log bytes.Buffer
	fsys := WithLogging(OS(), &log, base)
	for range 2 { // the second finds nothing, which is no error
		if err := Remove(fsys, p); err != nil {
			t.Fatal(err)
		}
	}
	if want := "remove f\nsync-dir .\nremove f -> not-exist\nsync-dir .\n"; log.String() != want {
		t.Fatalf("log:\n%swant:\n%s", log.String(), want)
	}
}
