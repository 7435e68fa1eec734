package sidecar

import (
	"errors"
	"github.com/snapsync/snapsync/internal/testtree"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestListenTCP: the local API binds only to loopback unless allowed.
func TestListenTCP(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		addr    string
		allow   bool
		wantErr error // nil: listens
	}{
		{"127.0.0.1:0", false, nil},
		{"localhost:0", false, nil},
		{"[::1]:0", false, nil},
		{"0.0.0.0:0", false, ErrNotLoopback},
		{":0", false, ErrNotLoopback},
		{"[::]:0", false, ErrNotLoopback},
		{"10.1.2.3:0", false, ErrNotLoopback},
		{"example.com:0", false, ErrNotLoopback},
		{"0.0.0.0:0", true, nil},
		{":0", true, nil},
		{"no-port", false, errAny},
	}
	for _, tc := range testCases {
		t.Run(tc.addr, func(t *testing.T) {
			t.Parallel()
			ln, err := Listen(tc.addr, tc.allow)
			if tc.addr == "[::1]:0" && err != nil && !errors.Is(err, ErrNotLoopback) {
				t.Skipf("no IPv6 loopback here: %v", err)
			}
			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Listen(%q, %t): %v", tc.addr, tc.allow, err)
			case tc.wantErr == nil:
				ln.Close()
			case err == nil:
				ln.Close()
				t.Fatalf("Listen(%q, %t) listened on %s", tc.addr, tc.allow, ln.Addr())
			case tc.wantErr != errAny && !errors.Is(err, tc.wantErr):
				t.Fatalf("Listen(%q, %t): %v, want %v", tc.addr, tc.allow, err, tc.wantErr)
			}
		})
	}
}

// errAny stands for "some error" in a table.
var errAny = errors.New("any error")

// TestListenUnix: a socket is made 0600, a stale one is replaced, and a live
// one or a path that is not a socket is left alone.
func TestListenUnix(t *testing.T) {
	t.Parallel()
	path := socketPath(t)
	ln, err := Listen("unix:"+path, false)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Lstat(path)
	if err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o600 {
		t.Fatalf("socket %v, %v: want a socket with mode 0600", fi.Mode(), err)
	}
	if _, err := Listen("unix:"+path, false); err == nil || !strings.Contains(err.Error(), "listening on it") {
		t.Fatalf("second listener on a live socket: %v", err)
	}
	ln.(interface{ SetUnlinkOnClose(bool) }).SetUnlinkOnClose(false) // as if the process died
	ln.Close()
	if _, err := os.Lstat(path); err != nil {
		t.Fatalf("stale socket gone already: %v", err)
	}
	ln, err = Listen("unix:"+path, false)
	if err != nil {
		t.Fatalf("listen over a stale socket: %v", err)
	}
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("dial the new socket: %v", err)
	}
	conn.Close()
	ln.Close()

	file := socketPath(t)
	if err := os.WriteFile(file, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Listen("unix:"+file, false); err == nil || !strings.Contains(err.Error(), "not a socket") {
		t.Fatalf("listen over a regular file: %v", err)
	}
	if b, err := os.ReadFile(file); err != nil || string(b) != "keep me" {
		t.Fatalf("the regular file was touched: %q, %v", b, err)
	}
	if _, err := Listen("unix:", false); err == nil {
		t.Fatal("listened on an empty socket path")
	}

	open := socketPath(t)
	ln, err = Listen("unix:"+open, false, SocketMode(0o666))
	if err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Lstat(open); err != nil || fi.Mode().Type() != fs.ModeSocket || fi.Mode().Perm() != 0o666 {
		t.Fatalf("socket %v, %v: want a socket with mode 0666", fi.Mode(), err)
	}
	if ln.Addr().String() != open {
		t.Fatalf("Addr() = %s, want %s", ln.Addr(), open)
	}
	if names := testtree.Names(t, filepath.Dir(open)); len(names) != 1 {
		t.Fatalf("beside the socket: %q, want only it", names)
	}
	ln.Close()
	if names := testtree.Names(t, filepath.Dir(open)); len(names) != 0 {
		t.Fatalf("after Close: %q, want nothing", names)
	}
}
