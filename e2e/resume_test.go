package e2e

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// TestResumeAfterKill SIGKILLs an install half-way through the transfer (in
// its fault hook, once half the chunks are verified and written, so what is
// staged does not depend on how the machine schedules the test) and checks
// that the rerun completes and that both runs together moved at most ~10%
// more bytes over the wire than one clean install.
func TestResumeAfterKill(t *testing.T) {
	t.Parallel()
	leader := filepath.Join(t.TempDir(), "leader")
	writePebble(t, leader, sampledb.Fill{Seed: 3, Bytes: 128 << 20})
	want := pristine(t, leader)
	// A rate limit keeps the server from running far ahead of the client:
	// the bytes in flight when it dies are what a resume fetches again.
	srv := startServe(t, "dir:"+leader, "--rate-limit", "40MB", "--compression", "none")
	px := startProxy(t, srv.Addr, nil)

	clean := install(t, px.URL(), filepath.Join(t.TempDir(), "clean"))
	cleanWire := px.fromServer.Load()
	if clean.BytesFetched == 0 {
		t.Fatalf("clean install fetched nothing: %+v", clean)
	}

	dest := filepath.Join(t.TempDir(), "db")
	before := px.fromServer.Load()
	half := clean.BytesTotal / 2 / (1 << 20) // chunks of 1 MiB
	r := runSnapsync(t.Context(), []string{"SNAPSYNC_CRASH_AT=chunk-written#" + strconv.FormatInt(half, 10)},
		"install", "--from", px.URL(), "--dest", dest)
	if !r.Killed {
		t.Fatalf("install was not killed half-way (%v); the test proves nothing:\n%s", r.Err, tail(r.Stderr, 2000))
	}
	killedAt := px.fromServer.Load() - before

	res := install(t, px.URL(), dest)
	total := px.fromServer.Load() - before
	t.Logf("clean install %d wire bytes; killed after %d; both runs %d (%.1f%%); rerun %+v",
		cleanWire, killedAt, total, 100*float64(total)/float64(cleanWire), res)
	if float64(total) > 1.10*float64(cleanWire) {
		t.Fatalf("killed + resumed install moved %d bytes, more than 110%% of a clean install's %d", total, cleanWire)
	}
	if res.BytesReused < clean.BytesTotal/3 {
		t.Fatalf("the rerun reused %d bytes of the first run's staging, want about half of %d", res.BytesReused, clean.BytesTotal)
	}
	comparePebble(t, want, dest)
}
