package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/internal/testwait"
)

// serveProc is a running `snapsync serve`.
type serveProc struct {
	URL  string
	Addr string
	cmd  *exec.Cmd
	logs *testlog.Buffer
}

// startServe runs `snapsync serve` on an ephemeral loopback port and waits
// until it listens. Extra args are appended (e.g. --rate-limit).
func startServe(tb testing.TB, source string, args ...string) *serveProc {
	tb.Helper()
	return runServe(tb, source, append([]string{"--work-dir", filepath.Join(tb.TempDir(), "work")}, args...)...)
}

// runServe is startServe without a --work-dir of its own (a repo: source
// refuses one).
func runServe(tb testing.TB, source string, args ...string) *serveProc {
	tb.Helper()
	return runServeUnder(tb, nil, source, args...)
}

// runServeUnder is runServe through a command prefix (prlimit, which execs
// the server, so the PID is the server's); no prefix runs the binary itself.
func runServeUnder(tb testing.TB, prefix []string, source string, args ...string) *serveProc {
	tb.Helper()
	addrFile := filepath.Join(tb.TempDir(), "addr")
	all := slices.Concat(prefix, []string{binary, "serve", "--listen", "127.0.0.1:0", "--source", source,
		"--addr-file", addrFile, "--log-format", "json"}, args)
	cmd := exec.Command(all[0], all[1:]...)
	logs := &testlog.Buffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	p := &serveProc{cmd: cmd, logs: logs}
	tb.Cleanup(func() {
		p.stop()
		if tb.Failed() {
			tb.Logf("serve logs:\n%s", tail(logs.String(), 4000))
		}
	})
	testwait.Eventually(tb, 30*time.Second, func() (bool, string) {
		if b, err := os.ReadFile(addrFile); err == nil && len(b) > 0 {
			p.Addr = string(b)
			return true, ""
		}
		if cmd.ProcessState != nil {
			tb.Fatalf("serve exited before it listened:\n%s", logs.String())
		}
		return false, "serve did not start:\n" + logs.String()
	})
	p.URL = "http://" + p.Addr
	return p
}

func (p *serveProc) stop() {
	if p.cmd.Process == nil || p.cmd.ProcessState != nil {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM) // best effort; Wait reaps it either way
	done := make(chan struct{})
	go func() { _ = p.cmd.Wait(); close(done) }() // exit status of a stopped server is not interesting
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill() // it ignored SIGTERM; the test fails elsewhere if that matters
		<-done
	}
}

// installResult mirrors `snapsync install --json`.
type installResult struct {
	SnapshotID   string  `json:"snapshot_id"`
	Term         uint64  `json:"term"`
	Index        uint64  `json:"index"`
	Files        int     `json:"files"`
	BytesTotal   int64   `json:"bytes_total"`
	BytesFetched int64   `json:"bytes_fetched"`
	BytesReused  int64   `json:"bytes_reused"`
	Seconds      float64 `json:"seconds"`
	// RollbackAvailable: --keep-old kept the replaced DB.
	RollbackAvailable bool `json:"rollback_available"`
}

// runResult is how a child process ended.
type runResult struct {
	Stdout, Stderr string
	Err            error
	Killed         bool // ended by SIGKILL
}

// runSnapsync runs the binary to completion with extra environment.
func runSnapsync(ctx context.Context, env []string, args ...string) runResult {
	cmd := exec.CommandContext(ctx, binaryFor(env), args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := runResult{Stdout: out.String(), Stderr: errb.String(), Err: err}
	if ee, ok := err.(*exec.ExitError); ok {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() && ws.Signal() == syscall.SIGKILL {
			r.Killed = true
		}
	}
	return r
}

// install runs `snapsync install --json` and fails the test on error.
func install(tb testing.TB, url, dest string, args ...string) installResult {
	tb.Helper()
	r := runSnapsync(context.Background(), nil, append([]string{"install", "--from", url, "--dest", dest, "--json"}, args...)...)
	if r.Err != nil {
		tb.Fatalf("install: %v\nstderr:\n%s", r.Err, tail(r.Stderr, 4000))
	}
	var res installResult
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		tb.Fatalf("install --json output %q: %v", r.Stdout, err)
	}
	return res
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprintf("...%s", s[len(s)-n:])
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// waitListening dials 127.0.0.1:port until it accepts, for a daemon started
// by a test (rsync --daemon) that writes no address file.
func waitListening(tb testing.TB, port int) {
	tb.Helper()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	testwait.Eventually(tb, 20*time.Second, func() (bool, string) {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			return false, fmt.Sprintf("nothing listens on %s: %v", addr, err)
		}
		_ = c.Close() // only probing
		return true, ""
	})
}
