package e2e

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// TestInstallErrors checks that failures end with one clear error line, a
// non-zero exit, and the destination untouched.
func TestInstallErrors(t *testing.T) {
	t.Parallel()
	dest := filepath.Join(t.TempDir(), "db")
	writePebble(t, dest, sampledb.Fill{Seed: 8, Bytes: 1 << 20})
	before := treeFiles(t, dest)
	testCases := []struct {
		name string
		args []string
		want string // a fragment of the error line
	}{
		{"nothing listening", []string{"install", "--from", "http://127.0.0.1:1", "--dest", dest}, "127.0.0.1:1"},
		{"not a URL", []string{"install", "--from", "::not a url", "--dest", dest}, "url"},
		{"missing dest", []string{"install", "--from", "http://127.0.0.1:1"}, "dest"},
		{"unknown compression", []string{"install", "--from", "http://127.0.0.1:1", "--dest", dest, "--compression", "lz4"}, "compression"},
		{"bad source", []string{"serve", "--source", "mysql:/x"}, "source"},
		{"missing source dir", []string{"serve", "--source", "dir:/nonexistent/snapsync", "--listen", "127.0.0.1:0"}, "nonexistent"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			r := runSnapsync(context.Background(), nil, append(tc.args, "--log-level", "error")...)
			if r.Err == nil {
				t.Fatalf("succeeded; stdout %q", r.Stdout)
			}
			line := lastLine(r.Stderr)
			if !strings.HasPrefix(line, "snapsync: ") || !strings.Contains(strings.ToLower(line), tc.want) {
				t.Fatalf("error line %q does not name %q", line, tc.want)
			}
			if diff := sameContent(before, treeFiles(t, dest)); diff != "" {
				t.Fatalf("destination changed: %s", diff)
			}
		})
	}
}

func TestHelpAndVersion(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{{"--help"}, {"serve", "--help"}, {"install", "--help"}, {"demo", "--help"}, {"version"}} {
		r := runSnapsync(context.Background(), nil, args...)
		if r.Err != nil || !strings.Contains(r.Stdout, "snapsync") {
			t.Errorf("snapsync %v: %v\n%s%s", args, r.Err, r.Stdout, r.Stderr)
		}
	}
}
