//go:build linux

package sidecar

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// swapEnv, set in a child process, makes this test binary, re-executed, swap
// the unix socket it names for a symlink to a target as soon as the socket
// appears, again and again until a stop file exists: "SOCK\nTARGET\nSTOP".
const swapEnv = "SNAPSYNC_TEST_SOCKET_SWAP"

func init() {
	spec := os.Getenv(swapEnv)
	if spec == "" {
		return
	}
	parts := strings.Split(spec, "\n")
	if len(parts) != 3 {
		fmt.Println("bad", swapEnv)
		os.Exit(2)
	}
	sock, target, stop := parts[0], parts[1], parts[2]
	swaps := 0
	for spin := 1; spin < 1<<26; spin++ {
		fi, err := os.Lstat(sock)
		if err == nil && fi.Mode().Type() == fs.ModeSocket {
			if os.Rename(sock, sock+".stolen") == nil && os.Symlink(target, sock) == nil {
				swaps++
			}
			continue
		}
		if spin%256 == 0 { // now and then, not on every spin
			if _, err := os.Lstat(stop); err == nil {
				break
			}
		}
	}
	fmt.Printf("uid %d: %d swaps\n", os.Getuid(), swaps)
	os.Exit(0)
}

// TestListenUnixSymlinkRace runs, as uid 65534, a process that swaps the
// socket for a symlink to a file of root's the moment it appears in a
// directory that uid may write (a shared emptyDir), while the sidecar
// listens there again and again: the file's mode never changes, with 0666
// (--local-allow-uid) as with the default 0600.
func TestListenUnixSymlinkRace(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the swapper under another uid")
	}
	testCases := []struct {
		name       string
		opts       []ListenOption
		targetMode fs.FileMode // a mode the socket's would change
	}{
		{name: "0666 for --local-allow-uid, a 0600 key", opts: []ListenOption{SocketMode(0o666)}, targetMode: 0o600},
		{name: "default 0600, a 0644 file", targetMode: 0o644},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			base, err := os.MkdirTemp("", "snapsync-sockrace-")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { os.RemoveAll(base) })
			shared, private := filepath.Join(base, "shared"), filepath.Join(base, "rootonly")
			for _, d := range []string{shared, private} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			for _, d := range []string{base, shared} { // no sticky bit: the swapper may rename root's socket
				if err := os.Chmod(d, 0o777); err != nil {
					t.Fatal(err)
				}
			}
			target := filepath.Join(private, "key")
			if err := os.WriteFile(target, []byte("secret"), tc.targetMode); err != nil {
				t.Fatal(err)
			}
			sock, stop := filepath.Join(shared, "om.sock"), filepath.Join(base, "stop")
			swapper := startAsNobody(t, base, swapEnv+"="+sock+"\n"+target+"\n"+stop)

			var listened, refused int
			deadline := time.Now().Add(2 * time.Second)
			for i := 0; time.Now().Before(deadline) && i < 2000; i++ {
				clearSwapped(t, sock)
				ln, err := Listen(unixPrefix+sock, false, tc.opts...)
				if err != nil {
					refused++
				} else {
					listened++
					if err := ln.Close(); err != nil {
						t.Logf("close: %v", err)
					}
				}
				if fi, err := os.Stat(target); err != nil || fi.Mode().Perm() != tc.targetMode {
					t.Fatalf("try %d: root's %s now has mode %v (%v), want %v: the socket's chmod followed a symlink",
						i, target, fi.Mode(), err, tc.targetMode)
				}
			}
			if err := os.WriteFile(stop, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			out := swapper()
			t.Logf("listened %d times, refused %d times; swapper: %s", listened, refused, out)
			if b, err := os.ReadFile(target); err != nil || string(b) != "secret" {
				t.Fatalf("root's file now %q (%v)", b, err)
			}
		})
	}
}

// clearSwapped removes what the swapper left at sock: its symlink, and the
// socket it moved aside.
func clearSwapped(tb testing.TB, sock string) {
	tb.Helper()
	if fi, err := os.Lstat(sock); err == nil && fi.Mode().Type() == fs.ModeSocket {
		sock = "" // a stale socket of ours: Listen replaces it
	}
	for _, p := range []string{sock, sock + ".stolen"} {
		if err := os.Remove(p); p != "" && err != nil && !errors.Is(err, fs.ErrNotExist) {
			tb.Fatal(err)
		}
	}
}

// startAsNobody starts a copy of this test binary as uid 65534 with env set
// (the binary sits where only root may enter, so it is copied into dir) and
// returns a function that waits for it and returns its output.
func startAsNobody(tb testing.TB, dir, env string) (wait func() string) {
	tb.Helper()
	exe, err := os.ReadFile(os.Args[0])
	if err != nil {
		tb.Fatal(err)
	}
	bin := filepath.Join(dir, "sidecar.test")
	if err := os.WriteFile(bin, exe, 0o755); err != nil {
		tb.Fatal(err)
	}
	var out strings.Builder
	cmd := exec.Command(bin, "-test.run=^$")
	cmd.Env = append(os.Environ(), env)
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	var done bool
	tb.Cleanup(func() {
		if !done {
			_ = cmd.Process.Kill() // the test failed before stopping it
			_ = cmd.Wait()         // its error is the kill's
		}
	})
	return func() string {
		done = true
		if err := cmd.Wait(); err != nil {
			tb.Errorf("swapper as uid 65534: %v\n%s", err, out.String())
		}
		return strings.TrimSpace(out.String())
	}
}
