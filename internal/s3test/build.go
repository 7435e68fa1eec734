package s3test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// EnvBinary names a versitygw binary to use instead of building one.
const EnvBinary = "SNAPSYNC_VERSITYGW"

var build struct {
	once sync.Once
	path string
	err  error
}

// Binary returns the path of a versitygw binary: $SNAPSYNC_VERSITYGW, or
// the one tools/go.mod pins, built on first use (a few minutes with a cold
// build cache) into a directory of os.TempDir keyed by tools/go.sum, so
// later test binaries and runs reuse it.
func Binary(tb testing.TB) string {
	tb.Helper()
	if p := os.Getenv(EnvBinary); p != "" {
		return p
	}
	build.once.Do(func() { build.path, build.err = buildBinary() })
	if build.err != nil {
		tb.Fatalf("s3test: %v", build.err)
	}
	return build.path
}

func buildBinary() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	tools := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "tools")
	sum, err := os.ReadFile(filepath.Join(tools, "go.sum"))
	if err != nil {
		return "", err
	}
	h := sha256.Sum256(sum)
	dir := filepath.Join(os.TempDir(), "snapsync-versitygw-"+hex.EncodeToString(h[:8]))
	bin := filepath.Join(dir, "versitygw")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	// Build beside the final name and rename, so a concurrent test binary
	// never runs a half-written file.
	tmp, err := os.MkdirTemp(dir, "build-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	cmd := exec.Command("go", "build", "-modfile="+filepath.Join(tools, "go.mod"), "-o", filepath.Join(tmp, "versitygw"),
		"github.com/versity/versitygw/cmd/versitygw")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build versitygw: %v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(tmp, "versitygw"), bin); err != nil {
		return "", err
	}
	return bin, nil
}
