package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"
	"golang.org/x/time/rate"

	"github.com/snapsync/snapsync/chunker"
	"github.com/snapsync/snapsync/internal/rpccodec"
	"github.com/snapsync/snapsync/metrics"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

// Work dir layout.
const (
	checkpointsDirName = "checkpoints"
	stateDirName       = "state"
	digestCacheName    = "digests.cache"
	lockName           = "LOCK"
)

// Message bounds: a request is a few ranges; nothing sent exceeds 4 MiB, so
// stock gRPC clients work with their default limits.
const (
	maxRequestBytes = 4 << 20
	maxSendBytes    = 4 << 20
)

// Server serves the checkpoints of one Source over the Connect
// SnapshotService.
type Server struct {
	cfg       Config
	log       zerolog.Logger
	cpDir     string
	stateDir  string
	lock      io.Closer
	catalog   *catalog
	cache     *digestCache
	installed atomic.Pointer[installed] // nil: no installed database served by digest
	frames    *frameCache               // nil: off
	peers     *peerMemory               // what each peer's last stream learnt of its link
	streams   chan struct{}             // semaphore of FetchChunks and FetchByDigest streams
	limiter   *rate.Limiter             // nil: unlimited
	bufs      bufferPools
	counters  counters
	noSplice  atomic.Bool // set by a misfire: chunks are read, not sent by sendfile (splice.go)

	ctx    context.Context // cancelled by Close
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup // sweeper, builds, handlers

	mu     sync.Mutex // guards closed and flight
	closed bool
	flight *flight
}

// counters are cumulative figures for Stats.
type counters struct {
	chunksRaw, chunksZstd, bytesRead, bytesSent, bytesSpliced atomic.Int64
}

// New opens the work dir (locking it against a second server), restores the
// checkpoints an unexpired lease holds, removes expired and orphaned ones,
// and starts the sweeper.
func New(ctx context.Context, cfg Config) (*Server, error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	work, err := filepath.Abs(cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("work dir: %w", err)
	}
	cfg.WorkDir = work
	s := &Server{
		cfg: cfg, log: cfg.Logger.With().Str("component", "server").Logger(),
		cpDir: filepath.Join(work, checkpointsDirName), stateDir: filepath.Join(work, stateDirName),
		streams: make(chan struct{}, cfg.MaxStreams),
		bufs:    bufferPools{window: windowFor(cfg.ChunkSize)},
	}
	if cfg.RateLimit > 0 {
		s.limiter = rate.NewLimiter(rate.Limit(cfg.RateLimit), max(cfg.ChunkSize*2, maxSendBytes))
	}
	if err := s.open(ctx); err != nil {
		return nil, err
	}
	if err := cfg.Metrics.WatchServer(s.gauges); err != nil {
		s.lock.Close()
		return nil, fmt.Errorf("metrics: %w", err)
	}
	s.ctx, s.cancel = context.WithCancelCause(context.WithoutCancel(ctx))
	s.wg.Add(1)
	go s.sweepLoop()
	return s, nil
}

// open prepares the work dir and restores its state.
func (s *Server) open(ctx context.Context) error {
	for _, d := range []string{s.cfg.WorkDir, s.cpDir, s.stateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("create work dir: %w", err)
		}
	}
	lock, err := lockDir(filepath.Join(s.cfg.WorkDir, lockName))
	if err != nil {
		return err
	}
	s.lock = lock
	s.catalog = newCatalog(s.stateDir, s.log, s.cfg.Metrics)
	s.frames = newFrameCache(s.cfg.FrameCacheBytes)
	s.peers = newPeerMemory()
	s.ServeInstalled(s.cfg.InstalledDest)
	cachePath := s.cfg.DigestCachePath
	if cachePath == "" {
		cachePath = filepath.Join(s.cfg.WorkDir, digestCacheName)
	}
	s.cache = newDigestCache(cachePath, s.cfg.DigestCacheChunks)
	if err := s.cache.load(); err != nil {
		s.log.Warn().Err(err).Msg("digest cache unreadable; starting empty")
	}
	if err := ctx.Err(); err != nil {
		s.lock.Close()
		return context.Cause(ctx)
	}
	if err := s.load(s.cfg.Clock.Now()); err != nil {
		s.lock.Close()
		return err
	}
	return nil
}

// ServeInstalled serves the database installed at dest by digest from now
// on, in place of Config.InstalledDest or the last call's ("": none), by
// the follower digest cache beside it (Config.InstalledDigests applies to
// Config.InstalledDest only). A sidecar calls it after each local install
// commits.
func (s *Server) ServeInstalled(dest string) {
	cache := ""
	if dest == s.cfg.InstalledDest {
		cache = s.cfg.InstalledDigests
	}
	s.installed.Store(newInstalled(dest, cache, s.cfg.InstalledRecheck, s.cfg.Clock.Now, s.log))
}

// Handler returns the Connect handler of SnapshotService over the server's
// catalog of checkpoints, on its own mux.
func (s *Server) Handler() http.Handler {
	h := &handler{st: live{s}, maxChunks: s.cfg.MaxChunksPerRequest, log: s.log, metrics: s.cfg.Metrics,
		sending: &sending{bufs: &s.bufs, frames: s.frames, peers: s.peers, limiter: s.limiter, streams: s.streams, mode: s.cfg.Compression,
			chunkSize: s.cfg.ChunkSize, metrics: s.cfg.Metrics}}
	return serviceMux(h, admission{s})
}

// StoreHandler returns the Connect handler of SnapshotService over st, on
// its own mux: the service a Server's Handler is, with the same checks,
// limits and errors, over another store (a backup repository: repo/serve).
// CreateSnapshot's audit lines go to log.
func StoreHandler(st Store, log zerolog.Logger) http.Handler {
	h := &handler{st: st, maxChunks: DefaultMaxChunksPerRequest, log: log,
		sending: &sending{bufs: &bufferPools{window: windowFor(chunker.DefaultChunkSize)}, peers: newPeerMemory(), streams: make(chan struct{}, DefaultMaxStreams),
			chunkSize: chunker.DefaultChunkSize}}
	return serviceMux(h, admission{})
}

// serviceMux serves h on a mux of its own.
func serviceMux(h *handler, a admission) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(snapsyncv1connect.NewSnapshotServiceHandler(h,
		// Chunks are compressed by the server itself; Connect's gzip would
		// cost 15x the throughput.
		connect.WithCompression("gzip", nil, nil),
		connect.WithReadMaxBytes(maxRequestBytes),
		connect.WithSendMaxBytes(maxSendBytes),
		connect.WithCodec(rpccodec.Codec{}), // chunks go from the file into the send buffer
		connect.WithInterceptors(a),
	))
	return mux
}

// Close stops the sweeper, ends running streams and waits for them and for
// checkpoints being built, then saves the digest cache. Leased checkpoints
// stay on disk for the next server. It does not close the Source.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.cancel(ErrClosed)
	s.wg.Wait()
	return errors.Join(s.cache.save(), s.lock.Close())
}

// enter registers a handler or build with Close; it fails once closed.
func (s *Server) enter() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.wg.Add(1)
	return nil
}

// Stats are cumulative figures, for tests and monitoring.
type Stats struct {
	Checkpoints  int   // checkpoints held now
	Leases       int   // leases held now
	DigestHits   int64 // files whose chunks came from the digest cache
	DigestMisses int64 // files hashed
	FrameHits    int64 // chunks whose zstd frame (or verdict) came from the frame cache
	FrameMisses  int64 // chunks compressed
	ChunksRaw    int64 // chunks sent raw
	ChunksZstd   int64 // chunks sent zstd-compressed
	BytesRead    int64 // chunk bytes read from checkpoint files
	BytesSent    int64 // chunk bytes on the wire
	BytesSpliced int64 // of those, bytes sent from their file by sendfile (plaintext HTTP/1.1)
}

// Stats returns the server's figures so far.
func (s *Server) Stats() Stats {
	st := Stats{
		ChunksRaw: s.counters.chunksRaw.Load(), ChunksZstd: s.counters.chunksZstd.Load(),
		BytesRead: s.counters.bytesRead.Load(), BytesSent: s.counters.bytesSent.Load(),
		BytesSpliced: s.counters.bytesSpliced.Load(),
	}
	st.Checkpoints, st.Leases = s.catalog.counts()
	st.DigestHits, st.DigestMisses = s.cache.counts()
	st.FrameHits, st.FrameMisses = s.frames.counts()
	return st
}

// gauges is what the server holds now, for the metrics' gauges.
func (s *Server) gauges() metrics.ServerState {
	st := metrics.ServerState{ActiveStreams: len(s.streams)}
	var newest time.Time
	st.Checkpoints, st.Leases, newest = s.catalog.held()
	st.NewestAge = s.cfg.Clock.Since(newest)
	return st
}

// sweepLoop removes expired checkpoints every SweepInterval until Close.
func (s *Server) sweepLoop() {
	defer s.wg.Done()
	t := s.cfg.Clock.NewTicker(s.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.Chan():
			s.removeTrees(s.catalog.sweep(s.cfg.Clock.Now()))
		}
	}
}

// removeTrees deletes owned checkpoint trees; it refuses any path that is not
// directly in the checkpoints dir.
func (s *Server) removeTrees(dirs []string) {
	for _, d := range dirs {
		if filepath.Dir(d) != s.cpDir {
			s.log.Error().Str("dir", d).Msg("refusing to remove a tree outside the checkpoints dir")
			continue
		}
		if err := os.RemoveAll(d); err != nil {
			s.log.Warn().Err(err).Str("dir", d).Msg("remove checkpoint")
		}
	}
}
