package client

import (
	"context"
	"errors"
	"fmt"
	"io"
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
// it. Before the fetch jobs go to the source, each chunk source in turn is
// asked which of the chunks still unassigned it has (HasChunks, 4,096 a
// round trip), and gets those, in the order Config.ChunkSources lists the
// sources (cheapest first). The sources and the install's source then fetch
// at once. A chunk a source leaves out is fetched from the install's source
// afterwards; a source whose call fails or stalls, or that sends a chunk
// that does not verify, is dropped for the rest of the install and its
// chunks go to the install's source too: a lying source costs a retry
// elsewhere, never a bad byte.

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

// runSourced fetches jobs: from the chunk sources that have them, and the
// rest, with whatever a source did not deliver, from the install's source.
func (f *fetcher) runSourced(ctx context.Context, jobs []*job) error {
	if f.sources == nil || len(jobs) == 0 {
		return f.run(ctx, jobs)
	}
	byJob, rest := f.sources.assign(ctx, f, jobs)
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return f.run(gctx, rest) })
	for i, c := range f.sources.list {
		if len(byJob[i]) == 0 {
			continue
		}
		g.Go(func() error {
			if err := f.fromSource(gctx, c, byJob[i]); err != nil {
				var local *localError
				if errors.As(err, &local) || gctx.Err() != nil { // the install's own failure, not the source's
					return err
				}
				c.dropped.Store(true)
				f.cfg.Logger.Warn().Err(err).Str("chunk_source", c.Name).Msg("chunk source dropped; its chunks come from the install's source")
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	var left []*job
	for _, part := range byJob {
		left = append(left, undone(part)...)
	}
	return f.run(ctx, left)
}

// assign asks each source, in order, which of the jobs not yet assigned it
// has, and returns the jobs each one gets and those none has. A source
// that cannot answer is dropped.
func (s *sourceSet) assign(ctx context.Context, f *fetcher, jobs []*job) ([][]*job, []*job) {
	byJob := make([][]*job, len(s.list))
	rest := jobs
	for i, c := range s.list {
		if c.dropped.Load() || len(rest) == 0 {
			continue
		}
		var left []*job
		for start := 0; start < len(rest); start += maxDigestsPerCall {
			batch := rest[start:min(len(rest), start+maxDigestsPerCall)]
			have, err := c.has(ctx, batch)
			if err != nil {
				c.dropped.Store(true)
				f.cfg.Logger.Warn().Err(err).Str("chunk_source", c.Name).Msg("chunk source dropped: it could not say what it has")
				left = append(left, rest[start:]...)
				break
			}
			for k, j := range batch {
				if have[k] {
					byJob[i] = append(byJob[i], j)
				} else {
					left = append(left, j)
				}
			}
		}
		rest = left
	}
	return byJob, rest
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
func (f *fetcher) fromSource(ctx context.Context, c *chunkSource, jobs []*job) error {
	dec, err := newDecoder(f.chunkSize)
	if err != nil {
		return err
	}
	defer dec.Close()
	buf := alignedBuf(int(f.chunkSize))
	out := f.sink.open()
	defer out.close()
	for start := 0; start < len(jobs); start += maxDigestsPerCall {
		batch := jobs[start:min(len(jobs), start+maxDigestsPerCall)]
		if err := f.byDigest(ctx, c, batch, dec, buf, out); err != nil {
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
