package e2e

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// measureEnv, set to a file name, makes the test binary a wrapper that runs
// its arguments as a command, writes the command's peak RSS in bytes, then
// its user and system CPU time in nanoseconds, to the file, and exits with
// the command's status.
//
// Why a wrapper: Linux records the old address space's high-water mark in a
// process's ru_maxrss when it execs, and Go starts children with
// CLONE_VM|CLONE_VFORK, so a child execed straight from a test process
// reports at least the test process's own peak. The wrapper is a fresh,
// small process: what its child reports is the child's own.
const measureEnv = "SNAPSYNC_E2E_MEASURE_RSS"

func measureChild(out string, args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "measure: no command")
		return 2
	}
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = os.Environ() // the child does not see measureEnv as special
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // dies with the wrapper
	err := cmd.Run()
	var user, sys time.Duration
	if ps := cmd.ProcessState; ps != nil {
		user, sys = ps.UserTime(), ps.SystemTime()
	}
	line := fmt.Sprintf("%d %d %d", maxRSS(cmd.ProcessState), user.Nanoseconds(), sys.Nanoseconds())
	if werr := os.WriteFile(out, []byte(line), 0o600); werr != nil {
		fmt.Fprintln(os.Stderr, "measure:", werr)
		return 2
	}
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &ee):
		return max(ee.ExitCode(), 1)
	}
	fmt.Fprintln(os.Stderr, "measure:", err)
	return 2
}

// measured is how a command run through the wrapper ended.
type measured struct {
	Stdout string
	Stderr string
	Err    error
	RSS    int64 // the command's peak resident set, bytes
}

// runMeasured runs binary with args through the wrapper and returns its
// output, its error and its own peak RSS.
func runMeasured(ctx context.Context, rssFile string, args ...string) measured {
	return runMeasuredEnv(ctx, nil, rssFile, args...)
}

// runMeasuredEnv is runMeasured with extra environment for the command.
func runMeasuredEnv(ctx context.Context, env []string, rssFile string, args ...string) measured {
	cmd := exec.CommandContext(ctx, os.Args[0], append([]string{binary}, args...)...)
	cmd.Env = append(append(os.Environ(), env...), measureEnv+"="+rssFile)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var rss int64
	if b, rerr := os.ReadFile(rssFile); rerr == nil {
		if f := strings.Fields(string(b)); len(f) > 0 {
			rss, _ = strconv.ParseInt(f[0], 10, 64) // an unreadable figure shows as 0
		}
	}
	return measured{Stdout: stdout.String(), Stderr: stderr.String(), Err: err, RSS: rss}
}
