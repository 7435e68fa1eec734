package server

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/chunker"
	"github.com/snapsync/snapsync/internal/wire"
	"github.com/snapsync/snapsync/metrics"
	"github.com/snapsync/snapsync/source"
	"github.com/snapsync/snapsync/verify"
)

// Config configures a Server. The zero value of every field but Source and
// WorkDir means its default; EnsureDefaults fills them in.
type Config struct {
	// Source yields checkpoints. Required. The server does not close it.
	Source source.Source
	// WorkDir holds owned checkpoints, manifests, lease state and the digest
	// cache. Required. It must be on the same filesystem as a pebble: source's
	// DB, so that checkpoints are hard links rather than copies.
	WorkDir string
	// ChunkSize is the manifest chunk size in bytes. Default
	// chunker.DefaultChunkSize (1 MiB); within [verify.MinChunkSize,
	// verify.MaxChunkSize].
	ChunkSize int
	// LeaseTTL is the lease granted when a client asks for none. Default 2m.
	LeaseTTL time.Duration
	// MaxLeaseTTL caps the TTL a client may ask for. Default 1h.
	MaxLeaseTTL time.Duration
	// ReuseWithin: CreateSnapshot reuses the newest held checkpoint younger
	// than this whose index is high enough, instead of making a new one.
	// Default 30s; negative: never reuse.
	ReuseWithin time.Duration
	// MaxStreams caps concurrent FetchChunks and FetchByDigest streams; one more is refused
	// with ResourceExhausted. Default 16.
	MaxStreams int
	// MaxChunksPerRequest caps the chunks one FetchChunks request may name.
	// Default 1<<20.
	MaxChunksPerRequest int
	// RateLimit caps wire bytes per second across all streams. Default 0:
	// unlimited.
	RateLimit int64
	// Compression is used when a client says COMPRESSION_UNSPECIFIED.
	// Default CompressionAuto.
	Compression Compression
	// HashParallel is how many files are hashed at once when building a
	// manifest. Default runtime.GOMAXPROCS(0).
	HashParallel int
	// SweepInterval is how often expired leases and their checkpoints are
	// removed. Default 10s.
	SweepInterval time.Duration
	// DigestCachePath is where the digest cache persists. Default
	// WorkDir/digests.cache. A cache kept elsewhere outlives a temporary
	// WorkDir (a backup of a dir: or pebble: source keeps one per source under
	// the user's cache directory, so a second backup does not hash unchanged
	// files again); it is believed only if this uid wrote it alone
	// (digestcache.CheckTrusted), and its directory must exist.
	DigestCachePath string
	// OnHashed, when set, is called with every chunk a manifest build reads
	// and hashes (not those the digest cache gives), from the hashing
	// goroutines at once, with the chunk's bytes valid during the call
	// only; an error fails the build. A backup of a local source stores
	// new chunks from it, so each of their bytes is read and hashed once
	// (repo/backup.Tee). Default: none.
	OnHashed func(ctx context.Context, c verify.Chunk, data []byte) error
	// DigestCacheChunks bounds the chunk digests the digest cache keeps (and
	// persists, about 36 bytes each). Default 1<<20 (1 TiB of 1 MiB chunks).
	DigestCacheChunks int
	// FrameCacheBytes bounds the cache of zstd frames shared by every
	// stream, so followers fetching the same chunks compress each once.
	// Default 64 MiB; negative: no cache.
	FrameCacheBytes int64
	// InstalledDest is the database the node installed (a local install's
	// destination), served by digest as the follower digest cache beside
	// it (InstalledDigests) maps its files to chunks; every chunk is
	// hashed again as it is read. Default "": none.
	InstalledDest string
	// InstalledDigests is the follower digest cache of InstalledDest.
	// Default: the client's, ".snapsync-NAME.digests" beside it.
	InstalledDigests string
	// InstalledRecheck is how often, at most, the cache file is looked at
	// for a change that rebuilds the index of InstalledDest (on the next
	// HasChunks or FetchByDigest). Default 5 s.
	InstalledRecheck time.Duration
	// Staged is the registry of chunks of the node's install in progress,
	// served by digest; the install adds to it. Default nil: none.
	Staged *StagedChunks
	// Logger receives structured logs. Default: the zero Logger, which
	// discards everything.
	Logger zerolog.Logger
	// Metrics receives the server's figures; New registers its gauges
	// (streams, leases, checkpoints) on it. Default: nil (no metrics).
	Metrics *metrics.Metrics
	// Clock is the time leases are granted, renewed and expired by, and
	// what drives the sweeper and a stream's lease renewal; a test passes a
	// clockwork.FakeClock to move time instead of sleeping. Default: the
	// real clock.
	Clock clockwork.Clock
}

// Defaults that EnsureDefaults applies.
const (
	DefaultLeaseTTL            = 2 * time.Minute
	DefaultMaxLeaseTTL         = time.Hour
	DefaultReuseWithin         = 30 * time.Second
	DefaultMaxStreams          = 16
	DefaultMaxChunksPerRequest = 1 << 20
	DefaultSweepInterval       = 10 * time.Second
	DefaultDigestCacheChunks   = 1 << 20
	DefaultFrameCacheBytes     = 8 << 20
	DefaultInstalledRecheck    = 5 * time.Second
)

// EnsureDefaults sets every zero field that has a default.
func (c *Config) EnsureDefaults() {
	setDefault(&c.ChunkSize, chunker.DefaultChunkSize)
	setDefault(&c.LeaseTTL, DefaultLeaseTTL)
	setDefault(&c.MaxLeaseTTL, DefaultMaxLeaseTTL)
	setDefault(&c.ReuseWithin, DefaultReuseWithin)
	setDefault(&c.MaxStreams, DefaultMaxStreams)
	setDefault(&c.MaxChunksPerRequest, DefaultMaxChunksPerRequest)
	setDefault(&c.HashParallel, runtime.GOMAXPROCS(0))
	setDefault(&c.SweepInterval, DefaultSweepInterval)
	setDefault(&c.DigestCacheChunks, DefaultDigestCacheChunks)
	setDefault(&c.FrameCacheBytes, DefaultFrameCacheBytes)
	setDefault(&c.InstalledRecheck, DefaultInstalledRecheck)
	if c.Clock == nil {
		c.Clock = clockwork.NewRealClock()
	}
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// Validate reports every problem with c at once, each wrapping ErrBadConfig.
// Call it after EnsureDefaults.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrBadConfig}, args...)...))
	}
	if c.Source == nil {
		bad("Source is required")
	}
	if c.WorkDir == "" {
		bad("WorkDir is required")
	}
	if c.ChunkSize < verify.MinChunkSize || c.ChunkSize > verify.MaxChunkSize {
		bad("ChunkSize %d outside [%d, %d]", c.ChunkSize, verify.MinChunkSize, verify.MaxChunkSize)
	}
	if c.LeaseTTL <= 0 || c.MaxLeaseTTL <= 0 || c.LeaseTTL > c.MaxLeaseTTL {
		bad("LeaseTTL %v must be positive and at most MaxLeaseTTL %v", c.LeaseTTL, c.MaxLeaseTTL)
	}
	if c.MaxStreams <= 0 {
		bad("MaxStreams %d must be positive", c.MaxStreams)
	}
	if c.MaxChunksPerRequest <= 0 {
		bad("MaxChunksPerRequest %d must be positive", c.MaxChunksPerRequest)
	}
	if c.RateLimit < 0 {
		bad("RateLimit %d must not be negative", c.RateLimit)
	}
	if !wire.KnownCompression(c.Compression) {
		bad("unknown Compression %v", c.Compression)
	}
	if c.HashParallel <= 0 || c.SweepInterval <= 0 || c.DigestCacheChunks <= 0 {
		bad("HashParallel %d, SweepInterval %v and DigestCacheChunks %d must be positive",
			c.HashParallel, c.SweepInterval, c.DigestCacheChunks)
	}
	return errors.Join(errs...)
}
