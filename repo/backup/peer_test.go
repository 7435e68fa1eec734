package backup_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/reason"
	"github.com/snapsync/snapsync/repo/backup"
	"github.com/snapsync/snapsync/verify"
)

// onChunks serves h, with every FetchChunks call going to chunks instead.
func onChunks(h http.Handler, chunks func(w http.ResponseWriter, r *http.Request)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, snapsyncv1connect.SnapshotServiceFetchChunksProcedure) {
			chunks(w, r)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// TestBackupStalledPeer checks that a peer that goes silent once the chunks
// are asked for fails the backup with the stall error within the stall
// limit, as it fails an install, and that nothing is committed.
func TestBackupStalledPeer(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, 3)
	url := serveHTTP(t, onChunks(sourceHandler(t, root), func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // silent: no headers, no byte
	}))
	r := openRepo(t)
	const limit = 300 * time.Millisecond
	start := time.Now()
	_, err := backup.Run(t.Context(), backup.Config{Source: url, Repo: r, StallTimeout: limit, Logger: zerolog.Nop()})
	took := time.Since(start)
	if !errors.Is(err, client.ErrStalled) {
		t.Fatalf("backup from a silent peer: %v, want client.ErrStalled", err)
	}
	if took > limit+10*time.Second {
		t.Fatalf("backup from a silent peer took %v, stall limit %v", took, limit)
	}
	l, err := r.List(t.Context())
	if err != nil || len(l.Snapshots) != 0 {
		t.Fatalf("after a stalled backup: %d snapshots, %v; want none", len(l.Snapshots), err)
	}
}

// cutAfter passes a response through until it has carried n body bytes,
// then drops the connection.
type cutAfter struct {
	http.ResponseWriter
	n int
}

func (c *cutAfter) Write(b []byte) (int, error) {
	if len(b) >= c.n {
		if _, err := c.ResponseWriter.Write(b[:c.n]); err == nil {
			c.Flush()
		}
		panic(http.ErrAbortHandler) // net/http closes the connection mid-response
	}
	c.n -= len(b)
	return c.ResponseWriter.Write(b)
}

func (c *cutAfter) Flush() { http.NewResponseController(c.ResponseWriter).Flush() } //nolint:errcheck // a test's pass-through

func (c *cutAfter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// TestBackupDroppedStreams checks that chunk streams a peer drops mid-way
// are retried, as an install's are, and that the backup then completes
// whole: every chunk of the snapshot in the repository, verified.
func TestBackupDroppedStreams(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, 4)
	h := sourceHandler(t, root)
	var cuts atomic.Int32
	url := serveHTTP(t, onChunks(h, func(w http.ResponseWriter, r *http.Request) {
		if cuts.Add(1) <= 2 { // the first two calls: cut after a chunk and a half
			w = &cutAfter{ResponseWriter: w, n: 3 << 19}
		}
		h.ServeHTTP(w, r)
	}))
	r := openRepo(t)
	res, err := backup.Run(t.Context(), backup.Config{Source: url, Repo: r, Streams: 1, RetryWait: 10 * time.Millisecond,
		Logger: zerolog.Nop()})
	if err != nil {
		t.Fatalf("backup over dropped streams: %v", err)
	}
	if n := cuts.Load(); n < 3 {
		t.Fatalf("%d chunk calls, want the two cut ones and a retry", n)
	}
	rep, err := r.Verify(t.Context(), verify.Digest{})
	if err != nil || rep.Snapshots != 1 || len(rep.Damaged) != 0 || rep.Chunks != res.ChunksNew {
		t.Fatalf("repository after the backup: %+v, %v; backed up %+v", rep, err, res)
	}
}

// TestBackupMinIndex checks that a source whose checkpoint is below
// MinIndex fails the backup with MIN_INDEX_NOT_REACHED, creating nothing.
func TestBackupMinIndex(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	writeTree(t, root, 5)
	r := openRepo(t)
	_, err := backup.Run(context.Background(), backup.Config{Source: sourceURL(t, root), Repo: r, MinIndex: 1000})
	if !errors.Is(err, client.ErrMinIndex) || !reason.Is(err, reason.MinIndexNotReached) {
		t.Fatalf("backup below min index: %v, want client.ErrMinIndex with %s", err, reason.MinIndexNotReached)
	}
	l, err := r.List(context.Background())
	if err != nil || len(l.Snapshots) != 0 {
		t.Fatalf("after a refused backup: %d snapshots, %v; want none", len(l.Snapshots), err)
	}
}
