package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// TestInstallFromSeveral: `install --from` a peer that is down, one whose
// checkpoint command makes one behind --min-index and one whose checkpoint
// reaches it. Probe ranks the two that answer (neither has made a
// checkpoint yet, both make one on demand) in list order: the one behind
// refuses, and the install goes on from the next, saying so in its JSON.
func TestInstallFromSeveral(t *testing.T) {
	t.Parallel()
	leader := filepath.Join(t.TempDir(), "leader")
	writePebble(t, leader, sampledb.Fill{Seed: 22, Bytes: 2 << 20})
	script := func(index int) string {
		return writeScript(t, `d="$SNAPSYNC_CMD_ROOT/ckpt-$$"
cp -a "`+leader+`" "$d"
printf '{"dir": "%s", "term": 3, "index": `+fmt.Sprint(index)+`}\n' "$d"`)
	}
	behind := startServe(t, "exec:"+script(10), "--engine", "pebble")
	good := startServe(t, "exec:"+script(700), "--engine", "pebble")
	down := fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
	dest := filepath.Join(t.TempDir(), "db")
	r := runSnapsync(context.Background(), nil, "install", "--from", strings.Join([]string{down, behind.URL, good.URL}, ","),
		"--dest", dest, "--min-index", "500", "--json")
	if r.Err != nil {
		t.Fatalf("install: %v\nstderr:\n%s", r.Err, tail(r.Stderr, 4000))
	}
	var res struct {
		installResult
		Source    string   `json:"source"`
		Failovers []string `json:"failovers"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &res); err != nil {
		t.Fatalf("install --json output %q: %v", r.Stdout, err)
	}
	if res.Index != 700 || res.Source != good.URL || len(res.Failovers) != 1 || res.Failovers[0] != behind.URL {
		t.Fatalf("installed index %d from %s after %v; want 700 from %s after %s", res.Index, res.Source, res.Failovers, good.URL, behind.URL)
	}
	comparePebble(t, leader, dest)
}
