package e2e

import (
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// TestExecSource serves checkpoints a command makes on demand (exec:), as a
// node that owns its DB would: the command copies a closed Pebble DB into a
// fresh directory under SNAPSYNC_CMD_ROOT and prints its term and
// index. An install with --min-index gets it, term and index included; a
// command that fails or prints garbage fails the install with a clear error
// and leaves the destination as it was.
func TestExecSource(t *testing.T) {
	t.Parallel()
	leader := filepath.Join(t.TempDir(), "leader")
	writePebble(t, leader, sampledb.Fill{Seed: 21, Bytes: 6 << 20})
	good := writeScript(t, `d="$SNAPSYNC_CMD_ROOT/ckpt-$$"
cp -a "`+leader+`" "$d"
printf '{"dir": "%s", "term": 3, "index": %d}\n' "$d" $((SNAPSYNC_CMD_MIN_INDEX + 10))`)
	srv := startServe(t, "exec:"+good, "--engine", "pebble")
	dest := filepath.Join(t.TempDir(), "db")
	res := install(t, srv.URL, dest, "--min-index", "500")
	if res.Term != 3 || res.Index != 510 {
		t.Fatalf("installed term %d index %d, want 3 and 510", res.Term, res.Index)
	}
	comparePebble(t, leader, dest)

	for _, tc := range []struct {
		name, body, want string
		minIndex         bool // the error says no checkpoint reaches the index
	}{
		{"fails", "echo disk full >&2; exit 2", "disk full", false},
		{"prints garbage", "echo hello", "not one JSON object", false},
		{"index too low", `d="$SNAPSYNC_CMD_ROOT/low"; mkdir -p "$d"; echo x > "$d/MANIFEST-000001"; echo "{\"dir\": \"$d\", \"term\": 1, \"index\": 1}"`, "index", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			srv := startServe(t, "registry:"+t.TempDir(), "--checkpoint-command", writeScript(t, tc.body))
			before := treeFiles(t, dest)
			r := runSnapsync(t.Context(), nil, "install", "--from", srv.URL, "--dest", dest, "--min-index", "500")
			if r.Err == nil {
				t.Fatal("install succeeded")
			}
			// Logs go to stderr too; the error is its last line.
			line := lastLine(r.Stderr)
			if !strings.HasPrefix(line, "snapsync: ") || !strings.Contains(line, tc.want) {
				t.Fatalf("stderr %q: want an error line naming %q", r.Stderr, tc.want)
			}
			if got := strings.Contains(line, "does not reach the index"); got != tc.minIndex {
				t.Fatalf("error %q: says the index is not reached: %v, want %v", line, got, tc.minIndex)
			}
			if diff := sameContent(before, treeFiles(t, dest)); diff != "" {
				t.Fatalf("the failed install changed the destination: %s", diff)
			}
		})
	}
}

// writeScript writes an executable sh script with body and returns its path.
// A child writes it, not this process: the tests fork servers in parallel,
// and a file this process had open for writing could still be open in a
// child between its fork and its exec when a sidecar execs the script,
// which fails with ETXTBSY (golang/go#22315).
func writeScript(tb testing.TB, body string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), "make-checkpoint")
	cmd := exec.Command("/bin/sh", "-c", `cat > "$1" && chmod 755 "$1"`, "sh", p)
	cmd.Stdin = strings.NewReader("#!/bin/sh\nset -e\n" + body + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("write %s: %v: %s", p, err, out)
	}
	return p
}
