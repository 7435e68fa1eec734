package server

import (
	"context"
	"fmt"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/testwait"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// TestBadRequests: each malformed or impossible request gets the Connect code
// a client acts on, and nothing is sent.
func TestBadRequests(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"a": 5 * testChunkSize, "b": 100})
	src, err := dirsource.New(dir, verify.Meta{Index: 10})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, Config{Source: src, MaxChunksPerRequest: 4})
	res := ts.create(t, 0, 0)
	id := res.GetSnapshot().GetSnapshotId()
	unknown := verify.Sum([]byte("no such snapshot"))
	rng := func(fi, first, count uint32) []*snapsyncv1.ChunkRange {
		return []*snapsyncv1.ChunkRange{{FileIndex: fi, FirstChunk: first, ChunkCount: count}}
	}
	fetchCases := []struct {
		name string
		req  *snapsyncv1.FetchChunksRequest
		want connect.Code
	}{
		{"malformed id", &snapsyncv1.FetchChunksRequest{SnapshotId: []byte{1, 2, 3}, Ranges: rng(0, 0, 1)}, connect.CodeInvalidArgument},
		{"unknown id", &snapsyncv1.FetchChunksRequest{SnapshotId: unknown[:], Ranges: rng(0, 0, 1)}, connect.CodeNotFound},
		{"no ranges", &snapsyncv1.FetchChunksRequest{SnapshotId: id}, connect.CodeInvalidArgument},
		{"file outside manifest", &snapsyncv1.FetchChunksRequest{SnapshotId: id, Ranges: rng(2, 0, 1)}, connect.CodeInvalidArgument},
		{"chunk outside file", &snapsyncv1.FetchChunksRequest{SnapshotId: id, Ranges: rng(1, 1, 1)}, connect.CodeInvalidArgument},
		{"range past the end", &snapsyncv1.FetchChunksRequest{SnapshotId: id, Ranges: rng(0, 3, 3)}, connect.CodeInvalidArgument},
		{"range overflowing uint32", &snapsyncv1.FetchChunksRequest{SnapshotId: id, Ranges: rng(0, 1, ^uint32(0))}, connect.CodeInvalidArgument},
		{"empty range", &snapsyncv1.FetchChunksRequest{SnapshotId: id, Ranges: rng(0, 0, 0)}, connect.CodeInvalidArgument},
		{"too many chunks", &snapsyncv1.FetchChunksRequest{SnapshotId: id, Ranges: append(rng(0, 0, 4), rng(1, 0, 1)...)}, connect.CodeInvalidArgument},
		{"unknown lease", &snapsyncv1.FetchChunksRequest{SnapshotId: id, Ranges: rng(0, 0, 1), LeaseId: "0123456789abcdef0123456789abcdef"}, connect.CodeNotFound},
	}
	for _, tc := range fetchCases {
		t.Run("FetchChunks/"+tc.name, func(t *testing.T) {
			t.Parallel()
			f, err := ts.fetch(context.Background(), t, nil, tc.req)
			if got := codeOfErr(err); got != tc.want || f.chunks != 0 {
				t.Fatalf("code %v after %d chunks (%v), want %v", got, f.chunks, err, tc.want)
			}
		})
	}
	ctx := context.Background()
	otherCases := []struct {
		name string
		call func() error
		want connect.Code
	}{
		{"GetManifest unknown", func() error { _, err := ts.manifestBytes(unknown[:]); return err }, connect.CodeNotFound},
		{"GetManifest malformed", func() error { _, err := ts.manifestBytes([]byte("short")); return err }, connect.CodeInvalidArgument},
		{"CreateSnapshot min_index unmet", func() error {
			_, err := ts.client.CreateSnapshot(ctx, connect.NewRequest(&snapsyncv1.CreateSnapshotRequest{MinIndex: 11}))
			return err
		}, connect.CodeFailedPrecondition},
		{"RenewLease unknown", func() error {
			_, err := ts.client.RenewLease(ctx, connect.NewRequest(&snapsyncv1.RenewLeaseRequest{LeaseId: "nope"}))
			return err
		}, connect.CodeNotFound},
		{"RenewLease empty", func() error {
			_, err := ts.client.RenewLease(ctx, connect.NewRequest(&snapsyncv1.RenewLeaseRequest{}))
			return err
		}, connect.CodeInvalidArgument},
		{"ReleaseLease unknown is fine", func() error {
			_, err := ts.client.ReleaseLease(ctx, connect.NewRequest(&snapsyncv1.ReleaseLeaseRequest{LeaseId: "nope"}))
			return err
		}, 0},
	}
	for _, tc := range otherCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := codeOfErr(tc.call()); got != tc.want {
				t.Fatalf("code %v, want %v", got, tc.want)
			}
		})
	}
}

// TestStreamCap: with MaxStreams running, one more stream is refused with
// ResourceExhausted; once one ends, a new one is served.
func TestStreamCap(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	writeTree(t, dir, map[string]int{"a": 160 * testChunkSize})
	src, err := dirsource.New(dir, verify.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	// 256 KiB/s: a 10 MiB request, more than the limiter's 4 MiB burst,
	// takes seconds, holding its stream.
	ts := startServer(t, Config{Source: src, MaxStreams: 2, RateLimit: 256 << 10, Compression: CompressionNone})
	res := ts.create(t, 0, 0)
	req := &snapsyncv1.FetchChunksRequest{SnapshotId: res.GetSnapshot().GetSnapshotId(),
		Ranges: []*snapsyncv1.ChunkRange{{FileIndex: 0, ChunkCount: 160}}}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var open []*connect.ServerStreamForClient[snapsyncv1.FetchChunksResponse]
	for range 2 {
		st, err := ts.client.FetchChunks(ctx, connect.NewRequest(req))
		if err != nil || !st.Receive() { // a first chunk: the stream is running
			t.Fatalf("stream: %v %v", err, st.Err())
		}
		open = append(open, st)
	}
	_, err = ts.fetch(context.Background(), t, nil, req)
	if got := codeOfErr(err); got != connect.CodeResourceExhausted {
		t.Fatalf("third stream: code %v (%v), want ResourceExhausted", got, err)
	}
	cancel()
	for _, st := range open {
		st.Close() // the server sees the stream end; its error is the cancellation
	}
	m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
	one := &snapsyncv1.FetchChunksRequest{SnapshotId: req.SnapshotId, Ranges: []*snapsyncv1.ChunkRange{{FileIndex: 0, ChunkCount: 1}}}
	// The server notices the cancellation shortly.
	testwait.Eventually(t, 10*time.Second, func() (bool, string) {
		_, err := ts.fetch(context.Background(), t, m, one)
		if err != nil && codeOfErr(err) != connect.CodeResourceExhausted {
			t.Fatalf("after the streams ended: %v", err)
		}
		return err == nil, fmt.Sprintf("after the streams ended: %v", err)
	})
}
