package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// binary is the snapsync executable built once for all tests; crashBinary
// is the same built with -tags crashhook, whose SNAPSYNC_CRASH_AT kills it at
// a fault point (see withCrashHook).
var binary, crashBinary string

func TestMain(m *testing.M) {
	if out := os.Getenv(measureEnv); out != "" {
		os.Exit(measureChild(out, os.Args[1:]))
	}
	dir, err := os.MkdirTemp("", "snapsync-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Backups keep their digest caches under the user's cache directory:
	// the tests' go to a directory of their own, not the home of whoever
	// runs them.
	if err := os.Setenv("XDG_CACHE_HOME", filepath.Join(dir, "cache")); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary, crashBinary = filepath.Join(dir, "snapsync"), filepath.Join(dir, "snapsync-crashhook")
	for bin, tags := range map[string]string{binary: "", crashBinary: "crashhook"} {
		build := exec.Command("go", "build", "-tags", tags, "-o", bin, "github.com/snapsync/snapsync/cmd/snapsync")
		build.Stdout, build.Stderr = os.Stderr, os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build snapsync:", err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// binaryFor returns the binary to run with env: crashBinary when env sets
// SNAPSYNC_CRASH_AT, which the production build ignores.
func binaryFor(env []string) string {
	for _, kv := range env {
		if strings.HasPrefix(kv, "SNAPSYNC_CRASH_AT=") {
			return crashBinary
		}
	}
	return binary
}
