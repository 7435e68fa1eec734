package e2e

import (
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// TestResumeAfterKill SIGKILLs an install half-way through the transfer and
// checks that the rerun completes and that both runs together moved at most
// ~10% more bytes over the wire than one clean install.
func TestResumeAfterKill(t *testing.T) {
	t.Parallel()
	leader := filepath.Join(t.TempDir(), "leader")
	writePebble(t, leader, sampledb.Fill{Seed: 3, Bytes: 48 << 20})
	want := pristine(t, leader)
	// A rate limit makes the transfer last long enough to kill it half-way.
	srv := startServe(t, "pebble:"+leader, "--rate-limit", "40MB", "--compression", "none")
	px := startProxy(t, srv.Addr, nil)

	clean := install(t, px.URL(), filepath.Join(t.TempDir(), "clean"))
	cleanWire := px.fromServer.Load()

	dest := filepath.Join(t.TempDir(), "db")
	before := px.fromServer.Load()
	cmd := exec.Command(binary, "install", "--from", px.URL(), "--dest", dest, "--json")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for px.fromServer.Load()-before < cleanWire/2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	err := cmd.Wait()
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
		t.Fatalf("install finished before it could be killed (%v); the test proves nothing", err)
	}
	killedAt := px.fromServer.Load() - before

	res := install(t, px.URL(), dest)
	total := px.fromServer.Load() - before
	t.Logf("clean install %d wire bytes; killed after %d; both runs %d (%.1f%%); rerun %+v",
		cleanWire, killedAt, total, 100*float64(total)/float64(cleanWire), res)
	if float64(total) > 1.10*float64(cleanWire) {
		t.Fatalf("killed + resumed install moved %d bytes, more than 110%% of a clean install's %d", total, cleanWire)
	}
	if res.BytesReused == 0 {
		t.Fatal("the rerun reused nothing of the first run's staging")
	}
	comparePebble(t, want, dest)
	if clean.BytesFetched == 0 {
		t.Fatalf("clean install fetched nothing: %+v", clean)
	}
}
