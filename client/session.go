package client

import (
	"context"
	"fmt"

	"github.com/jonboulle/clockwork"

	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/verify"
)

// Session is a snapshot leased from a peer, with its verified manifest: the
// fetch of an install without its destination. A backup opens one, picks
// the chunks its repository lacks and fetches them into its own Sink.
type Session struct {
	cfg       Config
	ownClient bool
	rpc       snapsyncv1connect.SnapshotServiceClient
	g         grant
	m         *verify.Manifest
	ctr       counters
	renew     *renewer
}

// ChunkRef names a chunk of a Session's manifest by place: chunk Chunk of
// file File, a file that is no hard link (its LinkTo is negative).
type ChunkRef struct{ File, Chunk int }

// Sink takes a verified chunk: c is its manifest entry, data its raw bytes,
// which are valid only until Sink returns. The Sink of a Fetch is called
// from Config.Streams goroutines at once; an error it returns fails the
// Fetch.
type Sink func(ctx context.Context, ref ChunkRef, c verify.Chunk, data []byte) error

// Open leases a snapshot reflecting at least minIndex from the sidecar at
// from, as an install does: CreateSnapshot (ErrMinIndex when no checkpoint
// reaches minIndex), then the manifest, its pages checked as they arrive,
// spooled to a temporary file and checked against the snapshot ID before it
// is decoded. Every call is retried and bounded by cfg.StallTimeout as an
// install's; the lease is renewed on cfg.Clock until Close. Of cfg only the
// fields that tune fetching apply: Streams, ChunkRetries, MaxAttempts,
// RetryWait, ChunksPerRequest, LeaseTTL, Compression, StallTimeout,
// HTTPClient, Metrics, Logger and Clock.
func Open(ctx context.Context, from string, minIndex uint64, cfg Config) (*Session, error) {
	s := &Session{cfg: cfg, ownClient: cfg.HTTPClient == nil}
	s.cfg.EnsureDefaults()
	if err := s.cfg.validateFetch(); err != nil {
		return nil, err
	}
	if err := checkSource(from); err != nil {
		return nil, err
	}
	s.ctr.m = s.cfg.Metrics
	// The stall watchdog runs on the real clock, as an install's.
	s.rpc = newRPC(withStall(s.cfg.HTTPClient, s.cfg.StallTimeout, clockwork.NewRealClock()), from)
	var err error
	if s.g, err = createSnapshot(ctx, s.rpc, minIndex, &s.cfg); err != nil {
		s.closeIdle()
		return nil, err
	}
	s.renew = startRenewer(context.WithoutCancel(ctx), s.rpc, s.g, &s.cfg) // stopped by Close
	s.cfg.Logger.Info().Str("snapshot", s.g.id.Short()).Uint64("index", s.g.info.GetIndex()).
		Uint64("bytes", s.g.info.GetTotalBytes()).Uint64("manifest_bytes", s.g.info.GetManifestSize()).Msg("snapshot granted")
	if s.m, err = fetchManifestTemp(ctx, s.rpc, s.g, &s.cfg); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// ID is the snapshot's ID: the digest of its manifest's encoding.
func (s *Session) ID() verify.Digest { return s.g.id }

// Manifest is the snapshot's manifest, verified against ID. The caller must
// not change it.
func (s *Session) Manifest() *verify.Manifest { return s.m }

// BytesFetched is what the chunks of every Fetch so far took on the wire.
func (s *Session) BytesFetched() int64 { return s.ctr.fetched.Load() }

// Fetch fetches the chunks refs names, each at most once, over
// Config.Streams parallel FetchChunks streams, with an install's retries,
// backoff and stall bound, and hands each to sink once it is decoded and
// verified against the manifest (a chunk that fails verification is
// fetched again, up to Config.ChunkRetries times, then fails with
// ErrVerify). refs are asked for in order, so runs of one file's chunks
// travel as one range.
func (s *Session) Fetch(ctx context.Context, refs []ChunkRef, sink Sink) error {
	jobs, err := s.jobs(refs)
	if err != nil {
		return err
	}
	f := &fetcher{rpc: s.rpc, id: s.g.id, leaseID: s.g.leaseID, cfg: &s.cfg,
		sink: funcSink{m: s.m, fn: sink}, ctr: &s.ctr, chunkSize: s.m.ChunkSize}
	return f.run(ctx, jobs)
}

// jobs makes a fetch job of each ref, refusing one that names no chunk of
// the manifest, a hard link, or a chunk twice.
func (s *Session) jobs(refs []ChunkRef) ([]*job, error) {
	slab := make([]job, len(refs))
	jobs := make([]*job, len(refs))
	seen := make(map[ChunkRef]bool, len(refs))
	for i, r := range refs {
		if r.File < 0 || r.File >= len(s.m.Files) || s.m.Files[r.File].LinkTo >= 0 ||
			r.Chunk < 0 || r.Chunk >= len(s.m.Files[r.File].Chunks) || seen[r] {
			return nil, fmt.Errorf("%w: chunk %d of file %d: not a chunk of the manifest, or named twice", ErrConfig, r.Chunk, r.File)
		}
		seen[r] = true
		c := &s.m.Files[r.File].Chunks[r.Chunk]
		slab[i] = job{digest: &c.Digest, length: c.Length, targets: []target{{file: r.File, chunk: r.Chunk}}}
		jobs[i] = &slab[i]
	}
	return jobs, nil
}

// Close stops renewing the lease and gives it back; an unreleased lease
// only holds the peer's checkpoint until it expires.
func (s *Session) Close() {
	s.renew.Stop()
	releaseLease(context.Background(), s.rpc, s.g, s.cfg.Logger)
	s.closeIdle()
}

// closeIdle closes the idle connections of the HTTP client Open made: they
// would idle on until they time out.
func (s *Session) closeIdle() {
	if s.ownClient {
		s.cfg.HTTPClient.CloseIdleConnections()
	}
}

// funcSink is a Sink as a fetcher's chunkSink.
type funcSink struct {
	m  *verify.Manifest
	fn Sink
}

func (f funcSink) open() streamSink { return f }

func (f funcSink) put(ctx context.Context, j *job, data []byte) error {
	t := j.targets[0]
	if err := f.fn(ctx, ChunkRef{File: t.file, Chunk: t.chunk}, f.m.Files[t.file].Chunks[t.chunk], data); err != nil {
		return err
	}
	j.done = true
	return nil
}

func (funcSink) close() {}
