// Package snapbin builds the snapsync binary of this checkout for the
// deployment's tests, statically and stripped as make image builds it.
package snapbin

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// Root is the repository's root directory: the module snapsync's CLI is in.
func Root(tb testing.TB) string {
	tb.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		tb.Fatal("snapbin: no caller")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..", "..")
	if _, err := os.Stat(filepath.Join(root, "cmd", "snapsync")); err != nil {
		tb.Fatalf("snapbin: repository root: %v", err)
	}
	return root
}

// Build builds ./cmd/snapsync with CGO_ENABLED=0 -trimpath -ldflags
// "-s -w -X main.version=VERSION" into out.
func Build(tb testing.TB, version, out string) {
	tb.Helper()
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version,
		"-o", out, "./cmd/snapsync")
	cmd.Dir = Root(tb)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("go build ./cmd/snapsync: %v\n%s", err, b)
	}
}
