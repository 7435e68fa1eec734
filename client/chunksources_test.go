package client

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/chunker"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// digestPeer is a chunk source that holds the chunks of a tree by digest
// and answers HasChunks and FetchByDigest from them, honestly or, per
// behave, not: the failure cases a chunk source can have, which a sidecar
// does not produce on demand.
type digestPeer struct {
	snapsyncv1connect.UnimplementedSnapshotServiceHandler
	chunks map[verify.Digest][]byte
	// behave edits the k-th chunk the peer sends (counting over every call
	// from 0): the bytes to send, or an error that ends the call; nil: as
	// it is.
	behave func(k int64, data []byte) ([]byte, error)
	sent   atomic.Int64
}

// treeChunks cuts every regular file below root into chunks of size bytes.
func treeChunks(tb testing.TB, root string, size int) map[verify.Digest][]byte {
	tb.Helper()
	out := make(map[verify.Digest][]byte)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		c, err := chunker.New(f, size)
		if err != nil {
			return err
		}
		for {
			ch, data, err := c.Next()
			if errors.Is(err, io.EOF) {
				return nil
			}
			if err != nil {
				return err
			}
			out[ch.Digest] = append([]byte(nil), data...)
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

func (p *digestPeer) HasChunks(_ context.Context, req *connect.Request[snapsyncv1.HasChunksRequest]) (*connect.Response[snapsyncv1.HasChunksResponse], error) {
	ds := req.Msg.GetDigests()
	have := make([]byte, (len(ds)+7)/8)
	for i, d := range ds {
		if _, ok := p.chunks[verify.Digest(d)]; ok {
			have[i/8] |= 1 << (i % 8)
		}
	}
	return connect.NewResponse(&snapsyncv1.HasChunksResponse{Have: have}), nil
}

func (p *digestPeer) FetchByDigest(ctx context.Context, req *connect.Request[snapsyncv1.FetchByDigestRequest], s *connect.ServerStream[snapsyncv1.FetchByDigestResponse]) error {
	for i, d := range req.Msg.GetDigests() {
		data, ok := p.chunks[verify.Digest(d)]
		if !ok {
			continue
		}
		k := p.sent.Add(1) - 1
		if p.behave != nil {
			var err error
			if data, err = p.behave(k, data); err != nil {
				return err
			}
		}
		if err := s.Send(&snapsyncv1.FetchByDigestResponse{Index: uint32(i), Encoding: snapsyncv1.Encoding_ENCODING_RAW, Data: data}); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	return nil
}

// serveDigestPeer serves p on 127.0.0.1 until the test ends.
func serveDigestPeer(tb testing.TB, p *digestPeer) string {
	tb.Helper()
	ln, err := listen("127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	_, h := snapsyncv1connect.NewSnapshotServiceHandler(p)
	serveUntilCleanup(tb, ln, h)
	return "http://" + ln.Addr().String()
}

// TestChunkSources installs a checkpoint from a real sidecar with a chunk
// source holding every chunk of it, honest or failing in each way a source
// can, and checks each time that the install is exact, that what the
// sidecar sent is no more than a clean install's, and, for an honest
// source, that the sidecar sent nothing but what the source lacked.
func TestChunkSources(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 6<<20)
	ckpt := filepath.Join(t.TempDir(), "checkpoint")
	if err := leader.DB().Checkpoint(ckpt); err != nil {
		t.Fatal(err)
	}
	src, err := dirsource.New(ckpt, verify.Meta{Term: 2, Index: 9})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{Source: src, Compression: server.CompressionNone}, "")
	clean, err := Install(context.Background(), ts.url, 0, testConfig(t, filepath.Join(t.TempDir(), "clean")))
	if err != nil {
		t.Fatal(err)
	}
	chunks := treeChunks(t, ckpt, testChunkSize)
	errGone := connect.NewError(connect.CodeUnavailable, errors.New("gone"))
	cases := []struct {
		name   string
		behave func(k int64, data []byte) ([]byte, error)
		// honest: every chunk comes from the source.
		honest bool
	}{
		{name: "honest", honest: true},
		{name: "lies (wrong bytes from the 3rd chunk on)", behave: func(k int64, data []byte) ([]byte, error) {
			if k < 2 {
				return data, nil
			}
			bad := append([]byte(nil), data...)
			bad[0] ^= 1
			return bad, nil
		}},
		{name: "dies after 3 chunks", behave: func(k int64, data []byte) ([]byte, error) {
			if k >= 3 {
				return nil, errGone
			}
			return data, nil
		}},
		{name: "stalls after 3 chunks", behave: func(k int64, data []byte) ([]byte, error) {
			if k >= 3 {
				time.Sleep(3 * time.Second)
			}
			return data, nil
		}},
		{name: "says it has them, sends none", behave: func(int64, []byte) ([]byte, error) { return nil, errGone }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			peer := &digestPeer{chunks: chunks, behave: tc.behave}
			url := serveDigestPeer(t, peer)
			dest := filepath.Join(t.TempDir(), "db")
			cfg := testConfig(t, dest)
			cfg.ChunkSources = []ChunkSource{{URL: url}}
			cfg.StallTimeout = time.Second
			res, err := Install(context.Background(), ts.url, 0, cfg)
			if err != nil {
				t.Fatal(err)
			}
			sameTree(t, readTree(t, ckpt), readTree(t, dest))
			fromSource := res.SourceBytes[url]
			fromLeader := res.BytesFetched - fromSource
			t.Logf("clean install %d bytes; with the source: %d from the leader, %d from the source", clean.BytesFetched, fromLeader, fromSource)
			if fromLeader > clean.BytesFetched {
				t.Fatalf("the leader sent %d bytes, a clean install %d", fromLeader, clean.BytesFetched)
			}
			if tc.honest && (fromLeader != 0 || fromSource != clean.BytesFetched) {
				t.Fatalf("honest source: %d bytes from the leader, %d from the source; want 0 and %d", fromLeader, fromSource, clean.BytesFetched)
			}
			if !tc.honest && fromSource >= clean.BytesFetched {
				t.Fatalf("a failing source delivered everything (%d bytes): the case tests nothing", fromSource)
			}
		})
	}
}

// TestChunkSourceUnreachable: a chunk source nobody answers at is dropped
// before any chunk, and the install goes on from its source.
func TestChunkSourceUnreachable(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 1<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	ln, err := listen("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := "http://" + ln.Addr().String()
	ln.Close()
	dest := filepath.Join(t.TempDir(), "db")
	cfg := testConfig(t, dest)
	cfg.ChunkSources = []ChunkSource{{Name: "dead", URL: dead}}
	res, err := Install(context.Background(), ts.url, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if res.SourceBytes["dead"] != 0 || res.BytesFetched == 0 {
		t.Fatalf("unreachable source: %+v", res)
	}
}

// TestChunkSourceConfig: a chunk source URL that could never reach a
// sidecar is refused up front.
func TestChunkSourceConfig(t *testing.T) {
	cfg := testConfig(t, filepath.Join(t.TempDir(), "db"))
	cfg.ChunkSources = []ChunkSource{{URL: "s3://bucket"}}
	cfg.EnsureDefaults()
	if err := cfg.Validate(); !errors.Is(err, ErrConfig) {
		t.Fatalf("Validate with a chunk source of s3://: %v, want ErrConfig", err)
	}
}

// TestStartBatch: followers that lease a snapshot one after another start
// fetching it far apart, whatever their ordinals and the batch count; one
// without an ordinal starts anywhere.
func TestStartBatch(t *testing.T) {
	t.Parallel()
	ids := []verify.Digest{verify.Sum([]byte("a")), verify.Sum([]byte("b")), {}}
	for _, n := range []int{3, 8, 36, 1000} {
		minApart := int(0.236*float64(n)) - 1 // the golden ratio's spread, less a batch lost to rounding
		for _, id := range ids {
			for k := uint32(1); k <= 40; k++ {
				starts := []int{startBatch(id, k, n), startBatch(id, k+1, n), startBatch(id, k+2, n)}
				for i, a := range starts {
					if a < 0 || a >= n {
						t.Fatalf("n=%d ordinal %d: start %d outside [0, %d)", n, k+uint32(i), a, n)
					}
					for _, b := range starts[i+1:] {
						if d := min((a-b+n)%n, (b-a+n)%n); d < minApart {
							t.Errorf("n=%d ordinals %d..%d: starts %v only %d batches apart, want at least %d", n, k, k+2, starts, d, minApart)
						}
					}
				}
			}
		}
		for range 100 {
			if s := startBatch(ids[0], 0, n); s < 0 || s >= n {
				t.Fatalf("n=%d without an ordinal: start %d outside [0, %d)", n, s, n)
			}
		}
	}
}
