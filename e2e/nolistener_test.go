package e2e

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// TestNoListenerOpened: restore and backup --from pebble:/dir: serve their
// repository or source to their own install or backup inside the process,
// over in-memory pipes; no TCP or unix socket of theirs listens at any
// moment, so another local user has nothing to connect to. The process's
// listening sockets are sampled from /proc from its start to its end; the
// sampler is first shown to see serve's listener, so it can fail.
func TestNoListenerOpened(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	db := filepath.Join(root, "db")
	writePebble(t, db, sampledb.Fill{Seed: 71, Bytes: 24 << 20})
	ckpt := filepath.Join(root, "ckpt")
	checkpointPebble(t, db, ckpt)
	repoDir := filepath.Join(root, "repo")

	// The sampler sees a listener when there is one.
	addrFile := filepath.Join(root, "addr")
	got := listenersDuring(t, nil, "serve", "--source", "dir:"+ckpt, "--listen", "127.0.0.1:0",
		"--addr-file", addrFile, "--work-dir", filepath.Join(root, "work"), "--metrics-listen", "unix:"+filepath.Join(root, "m.sock"))
	if len(got) < 2 {
		t.Fatalf("the sampler saw %v listening in snapsync serve; it would prove nothing", got)
	}

	for _, run := range [][]string{
		{"backup", "--from", "pebble:" + db, "--to", repoDir},
		{"backup", "--from", "dir:" + ckpt, "--to", repoDir},
		{"restore", "--from", repoDir, "--dest", filepath.Join(root, "restored")},
	} {
		if got := listenersDuring(t, nil, run...); len(got) > 0 {
			t.Errorf("snapsync %s listened on %v", strings.Join(run, " "), got)
		}
	}
	comparePebble(t, ckpt, filepath.Join(root, "restored"))
}

// listenersDuring runs the binary with args and samples the listening
// sockets its descriptors name until it exits (serve: until it has
// listened for a while, then it is stopped). It returns each listener seen.
func listenersDuring(t *testing.T, env []string, args ...string) []string {
	t.Helper()
	cmd := exec.Command(binary, append(args, "--log-level", "warn")...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	seen := map[string]bool{}
	deadline := time.Now().Add(2 * time.Minute)
	stopAt := time.Time{}
	for {
		for _, l := range listening(cmd.Process.Pid) {
			seen[l] = true
		}
		select {
		case err := <-done:
			if args[0] != "serve" && err != nil {
				t.Fatalf("snapsync %s: %v\n%s", strings.Join(args, " "), err, out.String())
			}
			var ls []string
			for l := range seen {
				ls = append(ls, l)
			}
			slices.Sort(ls)
			return ls
		default:
		}
		switch {
		case args[0] == "serve" && len(seen) >= 2 && stopAt.IsZero():
			stopAt = time.Now().Add(100 * time.Millisecond)
		case !stopAt.IsZero() && time.Now().After(stopAt):
			_ = cmd.Process.Signal(os.Interrupt) // serve ends on it; its exit is awaited above
			stopAt = deadline
		case time.Now().After(deadline):
			_ = cmd.Process.Kill()
			t.Fatalf("snapsync %s did not end", strings.Join(args, " "))
		}
		time.Sleep(200 * time.Microsecond)
	}
}

// listening returns the listening TCP and unix sockets among pid's open
// descriptors, as "tcp:INODE" or "unix:PATH".
func listening(pid int) []string {
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return nil // the process is gone
	}
	inodes := map[string]bool{}
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if err == nil && strings.HasPrefix(l, "socket:[") {
			inodes[strings.TrimSuffix(strings.TrimPrefix(l, "socket:["), "]")] = true
		}
	}
	if len(inodes) == 0 {
		return nil
	}
	var out []string
	for _, table := range []string{"tcp", "tcp6"} {
		forEachLine(fmt.Sprintf("/proc/%d/net/%s", pid, table), func(f []string) {
			if len(f) > 9 && f[3] == "0A" && inodes[f[9]] { // state LISTEN
				out = append(out, "tcp:"+f[1])
			}
		})
	}
	forEachLine(fmt.Sprintf("/proc/%d/net/unix", pid), func(f []string) {
		if len(f) > 7 && f[3] == "00010000" && inodes[f[6]] { // __SO_ACCEPTCON: listening
			out = append(out, "unix:"+f[7])
		}
	})
	return out
}

func forEachLine(path string, fn func([]string)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		fn(strings.Fields(s.Text()))
	}
}
