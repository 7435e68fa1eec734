package client

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"sync/atomic"

	"connectrpc.com/connect"
	"github.com/jonboulle/clockwork"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/sync/errgroup"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/verify"
)

// Chunk sources (docs/DESIGN.md, How an install runs: Fetch).
//
// The snapshot, its lease and its manifest come from the install's source
// (the source of truth); a chunk is content named by its SHA-256 and
// verified on arrival, so any sidecar or repository that has it may send
// it. The fetch jobs are taken in batches (runSourced); for each, each
// chunk source in turn, in the order Config.ChunkSources lists them
// (cheapest first), is asked which of the chunks still unassigned it has
// (HasChunks) and sends those (FetchByDigest); the install's source sends
// the rest, with whatever a source left out. A source whose call fails or
// stalls, or that sends a chunk that does not verify, is dropped for the
// rest of the install and its chunks go to the install's source: a lying
// source costs a retry elsewhere, never a bad byte.

// maxDigestsPerCall bounds the digests of one HasChunks or FetchByDigest
// request, as the server does.
const maxDigestsPerCall = 4096

// ChunkSource is a sidecar or repository an install may take chunks from by
// digest (Config.ChunkSources).
type ChunkSource struct {
	// Name names the source in logs, Result.SourceBytes and metrics: its
	// URL or repository location as the operator wrote it.
	Name string
	// URL is the base URL it serves SnapshotService at.
	URL string
	// HTTPClient reaches it; nil: Config.HTTPClient (a repository served
	// inside the process has a client of its own).
	HTTPClient *http.Client
}

// chunkSource is one ChunkSource during an install.
type chunkSource struct {
	ChunkSource
	rpc     snapsyncv1connect.SnapshotServiceClient
	dropped atomic.Bool
	bytes   atomic.Int64 // chunk bytes received from it and placed
}

// sourceSet is the install's chunk sources.
type sourceSet struct {
	list []*chunkSource
}

// newSourceSet prepares cfg's chunk sources (nil when there is none).
func newSourceSet(cfg *Config) *sourceSet {
	if len(cfg.ChunkSources) == 0 {
		return nil
	}
	s := &sourceSet{}
	for _, cs := range cfg.ChunkSources {
		hc := cs.HTTPClient
		if hc == nil {
			hc = cfg.HTTPClient
		}
		s.list = append(s.list, &chunkSource{ChunkSource: cs,
			rpc: newRPC(withStall(hc, cfg.StallTimeout, clockwork.NewRealClock()), cs.URL)})
	}
	return s
}

// bytesBySource reports the bytes each source sent, nil without sources.
func (s *sourceSet) bytesBySource() map[string]int64 {
	if s == nil {
		return nil
	}
	out := make(map[string]int64, len(s.list))
	for _, c := range s.list {
		out[c.Name] += c.bytes.Load()
	}
	return out
}

// sourcedBatchBytes is about the content asked of the sources at once
// (sourcedBatchSize): small enough that followers installing one snapshot
// at once, each starting at another place of it, find in each other what
// they fetched (fan-out), large enough that a round trip per batch costs
// little. Measured with three follower sidecars on one host (e2e fan-out
// bench, the leader's CPU for three installs over one's): 1.1–1.3× at
// 8 MiB, 1.4× at 4 MiB, 1.1–1.6× at 16 MiB. Larger batches leave peers
// less to find: a follower's first Streams batches are fetched from the
// leader before any peer has any of it.
const sourcedBatchBytes = 8 << 20

// sourcedBatchSize is the chunks of a batch for chunks of chunkSize bytes:
// sourcedBatchBytes of them, at least 4, at most maxDigestsPerCall.
func sourcedBatchSize(chunkSize uint32) int {
	return min(max(sourcedBatchBytes/int(chunkSize), 4), maxDigestsPerCall)
}

// runSourced fetches jobs in batches, Config.Streams at once, starting at
// startBatch and wrapping around, so that followers installing the same
// snapshot at once fetch different parts of it first. For each batch it
// asks the chunk sources, in order, which of the chunks still unassigned
// they have (HasChunks), fetches those from them (FetchByDigest), and the
// rest, with whatever a source did not deliver, from the install's source.
// Asking batch by batch, just before fetching, lets a source that is
// itself installing the snapshot (a peer's staging area) supply what it has
// fetched since the install began.
func (f *fetcher) runSourced(ctx context.Context, jobs []*job) error {
	if f.sources == nil || len(jobs) == 0 {
		return f.run(ctx, jobs)
	}
	var batches [][]*job
	size := sourcedBatchSize(f.chunkSize)
	for start := 0; start < len(jobs); start += size {
		batches = append(batches, jobs[start:min(len(jobs), start+size)])
	}
	first := startBatch(f.id, f.ordinal, len(batches))
	next := make(chan []*job, len(batches))
	for k := range batches {
		next <- batches[(first+k)%len(batches)]
	}
	close(next)
	g, gctx := errgroup.WithContext(ctx)
	for n := range f.cfg.Streams {
		g.Go(func() error {
			cio, err := f.newChunkIO() // one for all the worker's batches
			if err != nil {
				return err
			}
			defer cio.close()
			for batch := range next {
				if err := f.sourcedBatch(gctx, n, batch, cio); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

// goldenRatio is the fractional part of the golden ratio: the multiples of it
// modulo 1 are spread evenly, whatever run of them is taken (the
// three-distance theorem), so any three consecutive ones are at least
// 0.236 apart.
const goldenRatio = 0.6180339887498949

// startBatch is the batch of n that an install of snapshot id whose lease
// has the given ordinal starts at: the place the snapshot's ID gives, moved
// on by ordinal times the golden ratio. Followers that lease the snapshot
// one after another from the same server (ordinals k, k+1, k+2) start at
// least 0.236 of it apart, so that none fetches from the leader what
// another is fetching at the same time, each finding in the others' staging
// areas what they fetched (a random start put two of three followers
// within a few batches of each other, and them in step, about one run in
// three, measured here). Without an ordinal (a server that does not count
// its leases) the start is random, as before.
func startBatch(id verify.Digest, ordinal uint32, n int) int {
	if ordinal == 0 {
		return rand.IntN(n)
	}
	base := float64(binary.BigEndian.Uint64(id[:8])) / (1 << 64)
	_, frac := math.Modf(base + float64(ordinal)*goldenRatio)
	return min(int(frac*float64(n)), n-1)
}

// sourcedBatch fetches one batch: from the chunk sources that have its
// chunks, then what is left from the install's source on stream n, both
// through cio.
func (f *fetcher) sourcedBatch(ctx context.Context, n int, batch []*job, cio *chunkIO) error {
	rest := batch
	for _, c := range f.sources.list {
		if c.dropped.Load() || len(rest) == 0 {
			continue
		}
		have, err := c.has(ctx, rest)
		if err != nil {
			if ctx.Err() != nil {
				return context.Cause(ctx)
			}
			f.sources.drop(f, c, fmt.Errorf("it could not say what it has: %w", err))
			continue
		}
		var mine, left []*job
		for k, j := range rest {
			if have[k] {
				mine = append(mine, j)
			} else {
				left = append(left, j)
			}
		}
		if len(mine) > 0 {
			if err := f.fromSource(ctx, c, mine, cio); err != nil {
				var local *localError
				if errors.As(err, &local) || ctx.Err() != nil { // the install's own failure, not the source's
					return err
				}
				f.sources.drop(f, c, err)
			}
			left = append(left, undone(mine)...)
		}
		rest = left
	}
	if len(rest) == 0 {
		return nil
	}
	return f.streamWith(ctx, n, rest, cio)
}

// drop gives up on c for the rest of the install, once.
func (s *sourceSet) drop(f *fetcher, c *chunkSource, why error) {
	if c.dropped.CompareAndSwap(false, true) {
		f.cfg.Logger.Warn().Err(why).Str("chunk_source", c.Name).Msg("chunk source dropped; its chunks come from the install's source")
	}
}

// has asks c which of batch's chunks it has.
func (c *chunkSource) has(ctx context.Context, batch []*job) ([]bool, error) {
	req := &snapsyncv1.HasChunksRequest{Digests: digestsOf(batch), Client: "snapsync install"}
	resp, err := c.rpc.HasChunks(ctx, connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	bits := resp.Msg.GetHave()
	if len(bits) != (len(batch)+7)/8 {
		return nil, fmt.Errorf("%w: HasChunks answered %d bytes for %d digests", ErrServer, len(bits), len(batch))
	}
	out := make([]bool, len(batch))
	for k := range out {
		out[k] = bits[k/8]&(1<<(k%8)) != 0
	}
	return out, nil
}

// digestsOf returns the jobs' digests as the wire carries them.
func digestsOf(jobs []*job) [][]byte {
	out := make([][]byte, len(jobs))
	for k, j := range jobs {
		out[k] = j.digest[:]
	}
	return out
}

// fromSource fetches jobs from c by digest, in calls of at most
// maxDigestsPerCall chunks, placing each one that verifies. A chunk c leaves
// out stays pending; a call that fails, or a chunk that does not verify,
// ends it with an error (the caller drops c).
func (f *fetcher) fromSource(ctx context.Context, c *chunkSource, jobs []*job, cio *chunkIO) error {
	for start := 0; start < len(jobs); start += maxDigestsPerCall {
		batch := jobs[start:min(len(jobs), start+maxDigestsPerCall)]
		if err := f.byDigest(ctx, c, batch, cio.dec, cio.buf, cio.out); err != nil {
			return err
		}
	}
	return nil
}

// byDigest makes one FetchByDigest call to c for batch.
func (f *fetcher) byDigest(ctx context.Context, c *chunkSource, batch []*job, dec *zstd.Decoder, buf []byte, out streamSink) error {
	req := &snapsyncv1.FetchByDigestRequest{Digests: digestsOf(batch), Compression: f.cfg.Compression}
	stream, err := c.rpc.FetchByDigest(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	defer stream.Close() // the stream's error, if any, is read below
	seen := make([]bool, len(batch))
	for stream.Receive() {
		msg := stream.Msg()
		k := int(msg.GetIndex())
		if k >= len(batch) || seen[k] {
			return fmt.Errorf("%w: chunk source %s sent chunk %d of %d, or twice", ErrServer, c.Name, k, len(batch))
		}
		seen[k] = true
		j := batch[k]
		data, err := decodeChunk(dec, msg.GetEncoding(), msg.GetData(), j.length, buf)
		if err == nil {
			err = verify.CheckDigest(fmt.Sprintf("chunk %s from %s", j.digest.Short(), c.Name), *j.digest, verify.Sum(data))
		}
		f.cfg.Metrics.ChunkChecked(err == nil)
		if err != nil {
			return fmt.Errorf("%w: %w", ErrVerify, err)
		}
		f.ctr.addFetched(int64(len(msg.GetData())))
		f.ctr.sources.Add(int64(len(msg.GetData())))
		f.cfg.Metrics.FromSource(int64(len(msg.GetData())))
		c.bytes.Add(int64(len(msg.GetData())))
		if err := out.put(ctx, j, data); err != nil {
			return &localError{err}
		}
	}
	if err := stream.Err(); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	return nil
}

// localError is a failure to place a chunk a source sent: the install's
// own, which dropping the source would not cure.
type localError struct{ err error }

func (e *localError) Error() string { return e.err.Error() }
func (e *localError) Unwrap() error { return e.err }
