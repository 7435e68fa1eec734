package e2e

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

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

// TestResumeAfterStall: a leader that stops sending half-way (the connection
// stays open, nothing more arrives) fails the install within the stall limit
// with "no progress", leaving the old DB, the staging lock free and what was
// staged kept; the rerun through a healthy path fetches only the rest.
func TestResumeAfterStall(t *testing.T) {
	t.Parallel()
	leader := filepath.Join(t.TempDir(), "leader")
	writePebble(t, leader, sampledb.Fill{Seed: 4, Bytes: 32 << 20})
	want := pristine(t, leader)
	srv := startServe(t, "dir:"+leader, "--compression", "none")
	px := startProxy(t, srv.Addr, nil)
	dest := filepath.Join(t.TempDir(), "db")
	probe := install(t, srv.URL, filepath.Join(t.TempDir(), "probe"))
	px.stallAt.Store(probe.BytesTotal / 2)

	start := time.Now()
	r := runSnapsync(t.Context(), nil, "install", "--from", px.URL(), "--dest", dest, "--stall-timeout", "2s")
	took := time.Since(start)
	if r.Err == nil {
		t.Fatal("an install through a stalled leader succeeded")
	}
	if line := lastLine(r.Stderr); !strings.Contains(line, "no progress") || !strings.Contains(line, "2s") {
		t.Fatalf("error %q does not name the stall", line)
	}
	if took > 30*time.Second {
		t.Fatalf("the stall was noticed after %v, want about 2s", took) // bounded by progress, not by the ping timeouts
	}
	if _, err := os.Stat(dest); !os.IsNotExist(err) {
		t.Fatalf("a failed install left %s: %v", dest, err)
	}
	res := install(t, srv.URL, dest) // a second run takes the staging lock at once
	if res.BytesFetched >= res.BytesTotal*3/4 {
		t.Fatalf("the resume fetched %d of %d bytes: what was staged before the stall was not kept", res.BytesFetched, res.BytesTotal)
	}
	comparePebble(t, want, dest)
	t.Logf("stalled after %d bytes, failed in %v; the resume fetched %d of %d", px.fromServer.Load(), took.Round(time.Millisecond), res.BytesFetched, res.BytesTotal)
}
