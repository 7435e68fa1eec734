package durable

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestLock(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	p := filepath.Join(base, "lock")
	first, err := Lock(p, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(p, 0o600); !errors.Is(err, ErrLocked) {
		t.Fatalf("second lock: %v, want ErrLocked", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	again, err := Lock(p, 0o600)
	if err != nil {
		t.Fatalf("lock after release: %v", err)
	}
	if err := again.Close(); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(base, "link")
	if err := os.Symlink(p, link); err != nil {
		t.Fatal(err)
	}
	l, err := Lock(link, 0o600)
	if err == nil {
		l.Close()
	}
	if err == nil || errors.Is(err, ErrLocked) {
		t.Fatalf("lock through a symlink: %v, want a refusal", err)
	}
}

func TestOpenNoFollow(t *testing.T) {
	t.Parallel()
	base := t.TempDir()
	f, link, dirLink := filepath.Join(base, "f"), filepath.Join(base, "link"), filepath.Join(base, "dirlink")
	writeFile(t, f, "x")
	for _, l := range [][2]string{{f, link}, {base, dirLink}} {
		if err := os.Symlink(l[0], l[1]); err != nil {
			t.Fatal(err)
		}
	}
	testCases := []struct {
		path   string
		flag   int
		wantOK bool
	}{
		{f, os.O_RDONLY, true},
		{link, os.O_RDONLY, false},
		{link, os.O_WRONLY | os.O_CREATE, false},
		{dirLink, os.O_RDONLY, false},
		{filepath.Join(dirLink, "f"), os.O_RDONLY, true}, // parents are the caller's to trust
	}
	for _, tc := range testCases {
		fh, err := OpenNoFollow(tc.path, tc.flag, 0o600)
		if (err == nil) != tc.wantOK {
			t.Errorf("open %s: %v, want ok %v", tc.path, err, tc.wantOK)
		}
		if err == nil {
			fh.Close()
		}
	}
	if got := readFile(t, f); got != "x" {
		t.Fatalf("target changed: %q", got)
	}
}
