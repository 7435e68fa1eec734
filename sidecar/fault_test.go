package sidecar

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/cockroachdb/pebble/v2"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testdb"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// makeCheckpoint writes about size bytes of sample data into a fresh Pebble
// DB and returns a checkpoint of it: an immutable directory a dir: source
// serves.
func makeCheckpoint(tb testing.TB, size int64) string {
	tb.Helper()
	ctx := context.Background()
	base := tb.TempDir()
	db, err := pebble.Open(filepath.Join(base, "db"), &pebble.Options{Logger: sampledb.QuietLogger{}})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	if _, err := sampledb.Write(ctx, db, sampledb.Fill{Seed: 1, Bytes: size}); err != nil {
		tb.Fatal(err)
	}
	ck := filepath.Join(base, "checkpoint")
	if err := db.Checkpoint(ck, pebble.WithFlushedWAL()); err != nil {
		tb.Fatal(err)
	}
	return ck
}

// copyTree copies the directories and regular files of src to dst, which
// must not exist: another leader's copy of the same data.
func copyTree(tb testing.TB, src, dst string) {
	tb.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		to := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.Mkdir(to, 0o755)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.Create(to)
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		tb.Fatal(err)
	}
}

// dirSource returns a dir: source of ck reflecting term, index 42.
func dirSource(tb testing.TB, ck string, term uint64) *dirsource.Source {
	tb.Helper()
	src, err := dirsource.New(ck, verify.Meta{Term: term, Index: 42, Engine: "pebble", CreatedUnixNano: int64(term)})
	if err != nil {
		tb.Fatal(err)
	}
	return src
}

// TestLeaderChangeMidPrepare: a Prepare from a new leader supersedes the one
// under way: the first stream ends Aborted naming the new leader, the second
// completes, and what the first staged is reused, so the bytes fetched
// across both stay under 1.3x a clean install.
func TestLeaderChangeMidPrepare(t *testing.T) {
	t.Parallel()
	ckA := makeCheckpoint(t, 6<<20)
	ckB := filepath.Join(t.TempDir(), "checkpoint")
	copyTree(t, ckA, ckB)
	a := startPeer(t, server.Config{Source: dirSource(t, ckA, 3)})
	b := startPeer(t, server.Config{Source: dirSource(t, ckB, 4)})
	g := newGate("chunk-written", 24)
	defer g.open()
	l := startLocal(t, InstallConfig{Client: client.Config{Hook: g.hook, Streams: 2, ChunksPerRequest: 4,
		Compression: snapsyncv1.Compression_COMPRESSION_NONE}}, nil)
	dest := filepath.Join(l.root, "db")

	first := startPrepare(t, l.client, a.url, 40, dest)
	g.wait(t)
	second := startPrepare(t, l.client, b.url, 40, dest) // its first message: the first is cancelled
	g.open()
	_, err := first.finish()
	wantError(t, err, connect.CodeAborted, "superseded by a Prepare from "+b.url)
	info, err := second.finish()
	if err != nil {
		t.Fatalf("second prepare: %v", err)
	}
	if info.GetTerm() != 4 {
		t.Fatalf("prepared %v, want the new leader's (term 4)", info)
	}
	sentA, sentB, total := a.srv.Stats().BytesSent, b.srv.Stats().BytesSent, int64(info.GetTotalBytes())
	t.Logf("clean install %d bytes; old leader sent %d, new leader %d (%.2fx)", total, sentA, sentB, float64(sentA+sentB)/float64(total))
	if sentA < 16*testChunkSize || float64(sentA+sentB) >= 1.3*float64(total) {
		t.Fatalf("old leader sent %d, new leader %d, for a %d-byte snapshot: staged bytes not reused", sentA, sentB, total)
	}
	commit(t, l.client, dest, info.GetSnapshotId())
	testdb.CheckSameDB(t, openDB(t, ckA), dest)
}

// TestSourceGoesAway: a leader that stops mid-Prepare leaves the install
// FAILED with a clear error and the old DB untouched; a later Prepare from
// the restarted leader resumes from what was staged.
func TestSourceGoesAway(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 6<<20)
	work := filepath.Join(t.TempDir(), "work")
	p1 := startPeer(t, server.Config{Source: leader, WorkDir: work})
	g := newGate("chunk-written", 24)
	defer g.open()
	l := startLocal(t, InstallConfig{Client: client.Config{Hook: g.hook, Streams: 2, ChunksPerRequest: 4, MaxAttempts: 3,
		Compression: snapsyncv1.Compression_COMPRESSION_NONE}}, nil)
	dest := filepath.Join(l.root, "db")
	writeDB(t, dest, 7, 1<<20)

	ps := startPrepare(t, l.client, p1.url, 40, dest)
	g.wait(t)
	p1.stop()
	g.open()
	_, err := ps.finish()
	wantCode(t, err, connect.CodeUnavailable)
	st := status(t, l.client, dest)
	if st.GetProgress().GetState() != snapsyncv1.InstallState_INSTALL_STATE_FAILED || !strings.Contains(st.GetError(), "unavailable") {
		t.Fatalf("status after the leader went away: %v", st)
	}
	if n := countKeys(t, dest); n != 1048 {
		t.Fatalf("old db has %d keys after the failed prepare, want 1048", n)
	}
	wantError(t, commitErr(l.client, dest, make([]byte, 32)), connect.CodeFailedPrecondition, "last Prepare failed")

	p2 := startPeer(t, server.Config{Source: leader, WorkDir: work})
	info := prepare(t, l.client, p2.url, 40, dest)
	sent, total := p2.srv.Stats().BytesSent, int64(info.GetTotalBytes())
	t.Logf("resumed: the restarted leader sent %d of %d bytes", sent, total)
	if sent > total-16*testChunkSize {
		t.Fatalf("the restarted leader sent %d of %d bytes: the prepare did not resume", sent, total)
	}
	commit(t, l.client, dest, info.GetSnapshotId())
	testdb.CheckSameDB(t, leader.DB(), dest)
}
