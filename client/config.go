package client

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"path/filepath"
	"slices"
	"time"

	"github.com/jonboulle/clockwork"
	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/internal/wire"
	"github.com/snapsync/snapsync/metrics"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// Config tunes an install. The zero value with Dest set is ready to use once
// EnsureDefaults has run (every entry point runs it).
type Config struct {
	// Dest is the database directory to create or replace. Required.
	Dest string
	// StagingDir is the staging area. It must be a direct child of Dest's
	// parent directory, so it is on the same filesystem and the swap is a
	// rename; with Replace, a direct child of Dest (see SetStagingName).
	// Default: filepath.Join(filepath.Dir(Dest), ".snapsync-"+filepath.Base(Dest)),
	// or with Replace filepath.Join(Dest, SetStagingName).
	StagingDir string
	// Within, when set, is a directory the caller trusts as named that the
	// staging area's parent (Dest's parent; with Replace, Dest) is or lies
	// below: the directories from it down to that parent are then opened one
	// at a time without following a symlink, so that one swapped for a
	// symlink makes the install (or a note, WithinDir) fail instead of taking
	// it out of Within. The sidecar sets it to the --allow-dest root of Dest.
	// Default: "" (that parent is opened as named, its symlinks followed:
	// the caller trusts the whole path).
	Within string
	// Replace, when set, installs into Dest as a set of top-level entries
	// instead of replacing Dest whole: each listed name in Dest is replaced
	// by the snapshot's entry of that name, or removed if the snapshot has
	// none, as one unit (package swap's ReplaceSet), and every other entry of
	// Dest is left exactly as it is. The snapshot's top-level entries must
	// all be listed (else ErrOutsideReplace, before any fetch). An Ozone
	// Manager installs into its metadata directory with om.db and
	// db.snapshots, keeping its VERSION and Ratis log. Commit must name the
	// list Prepare staged with (else ErrReplaceMismatch). At most
	// swap.MaxSetEntries names, each one path component.
	// Default: nil (replace Dest whole).
	Replace []string
	// Streams is the number of parallel FetchChunks streams. Default: 4.
	Streams int
	// ChunkRetries is how many times a chunk that fails verification is
	// fetched again before the install fails with ErrVerify. Default: 3.
	ChunkRetries int
	// MaxAttempts bounds the attempts of one stream, with exponential backoff,
	// on a dropped connection, Unavailable or ResourceExhausted; a call that
	// receives a verified chunk resets the count. Default: 8.
	MaxAttempts int
	// RetryWait is the first backoff between attempts; it grows 2x per attempt
	// up to 30x. Default: 250ms.
	RetryWait time.Duration
	// BufferedWrites writes every chunk through the page cache. Default
	// (false): whole chunks are written with direct I/O where the staging
	// filesystem supports it, sparing a copy and the node's page cache.
	BufferedWrites bool
	// ChunksPerRequest bounds the chunks named by one FetchChunks call; larger
	// plans are split into successive calls. Default: 4096.
	ChunksPerRequest int
	// LeaseTTL is the lease asked of the server; it is renewed at a third of
	// the granted TTL while fetching. Default: 0 (the server's default).
	LeaseTTL time.Duration
	// Compression is what the client asks the server to do with chunks.
	// Default: COMPRESSION_UNSPECIFIED (the server decides).
	Compression snapsyncv1.Compression
	// KeepOld keeps what Commit replaces (the old database, or a set
	// install's old entries) in the rollback area (StagingDir+".rollback",
	// on Dest's filesystem) instead of removing it, until Finalize deletes
	// it or Rollback puts it back; meanwhile another Commit fails with
	// ErrRollbackPending. Default: false.
	KeepOld bool
	// VerifyLocal hashes every byte of every local file while planning,
	// ignoring the follower digest cache (StagingDir+".digests"), which
	// otherwise spares the files this package verified and wrote whose
	// identity (device, inode, birth time, size, mtime) has not changed
	// since, and the prefilter, which otherwise reads past the first chunk
	// only of a file whose first chunk the plan can use (docs/DESIGN.md, How
	// an install runs). Default: false.
	VerifyLocal bool
	// ChunkSources are sidecars or repositories to take chunks from by
	// digest, cheapest first: the snapshot, its lease and its manifest come
	// from the install's source, each chunk a chunk source has from that
	// source, and the rest, with whatever a source fails to deliver, from
	// the install's source. Every chunk is verified as from any peer; a
	// source that fails, stalls or sends a chunk that does not verify is
	// dropped for the rest of the install (docs/DESIGN.md, How an install
	// runs: Fetch). Default: none.
	ChunkSources []ChunkSource
	// OnChunkStaged, when set, is told of every chunk verified and written
	// into the staging area (its digest, file and offset), from the
	// goroutines that write them: a sidecar serves them by digest to peers
	// installing the same snapshot. Default: none.
	OnChunkStaged func(d verify.Digest, path string, off int64, length uint32)
	// PlanWindow is the most chunks an install holds chunk lists and jobs
	// for at once: a manifest of more is read back from the staged
	// manifest file and staged a window at a time, in memory bounded by the
	// window rather than the database (docs/DESIGN.md, How an install runs:
	// Plan). Default: 262,144 (256 GiB at the default 1 MiB chunk, about 30
	// MiB of plan).
	PlanWindow int
	// Immutable reports whether a file of the current database (a
	// slash-separated path relative to Dest) never changes in place, so that
	// it may be hard-linked into the staged tree when its whole content matches.
	// Default: names ending in ".sst" or ".blob".
	Immutable func(path string) bool
	// StallTimeout bounds every RPC by progress: one whose response brings no
	// headers, or fewer than 32 KiB of body, for this long fails the install
	// with ErrStalled, keeping what is staged for the next run. A slow
	// transfer that keeps moving is never cut. Default: 60s.
	StallTimeout time.Duration
	// HTTPClient carries the RPCs. Default: an h2c client (unencrypted HTTP/2
	// only, 16 MiB flow-control windows) that does not ask for gzip.
	HTTPClient *http.Client
	// FreeSpaceHeadroom is the space an install leaves free on the staging
	// area's filesystem: before the first byte, Prepare refuses with
	// ErrNoSpace (a *NoSpaceError) unless the bytes it will write (fetched,
	// or copied where a hard link cannot do) plus this fit in the free space.
	// Default: 5% of the filesystem, at most 1 GiB; NoFreeSpaceHeadroom
	// keeps none.
	FreeSpaceHeadroom int64
	// Hook is called at the fault points listed in the package documentation;
	// an error it returns aborts the install there. Default: nil (none).
	Hook func(point string) error
	// Progress, when set, receives the install's progress, from one goroutine.
	// Default: nil.
	Progress func(Progress)
	// Metrics counts the bytes the install receives and reuses and the
	// chunks it verifies and refuses. Default: nil (no metrics).
	Metrics *metrics.Metrics
	// Logger receives the install's log. Default: the zero Logger (disabled).
	Logger zerolog.Logger
	// Clock times the lease renewal and the backoff between attempts; a test
	// passes a clockwork.FakeClock (the server's too) to move time instead of
	// sleeping. Default: the real clock.
	Clock clockwork.Clock

	// FileModeMask is the umask applied to the permission bits the leader's
	// manifest gives each installed file and directory. Whatever the mask,
	// setuid, setgid and sticky bits are never set and world-write is
	// always removed; a directory keeps at least owner rwx (so the install
	// can finish it) and a file at least owner read. Default: 0o022 (zero
	// means the default; 0o002 masks nothing more than world-write).
	FileModeMask fs.FileMode

	// setArea aims at Dest's set staging area without a list (Recover and
	// Abort of an interrupted set install; see setAreaConfig).
	setArea bool

	// wrapFS, when set, wraps the install's durable file operations (which
	// resolve below a handle of Dest's parent), so that a test of this
	// package records their order or stops them. Default: none.
	wrapFS func(durable.StageFS) durable.StageFS
}

// DefaultFileModeMask is the default Config.FileModeMask.
const DefaultFileModeMask fs.FileMode = 0o022

// Defaults of Config.
const (
	DefaultStreams          = 4
	DefaultChunkRetries     = 3
	DefaultMaxAttempts      = 8
	DefaultRetryWait        = 250 * time.Millisecond
	DefaultChunksPerRequest = 4096
	DefaultStallTimeout     = 60 * time.Second
)

// EnsureDefaults fills in the defaults of unset fields and makes Dest and
// StagingDir absolute.
func (c *Config) EnsureDefaults() {
	if c.FileModeMask == 0 {
		c.FileModeMask = DefaultFileModeMask
	}
	if c.Dest != "" {
		if abs, err := filepath.Abs(c.Dest); err == nil {
			c.Dest = abs
		} // else Validate reports the relative path it cannot use
	}
	if c.StagingDir == "" && c.Dest != "" {
		c.StagingDir = filepath.Join(filepath.Dir(c.Dest), ".snapsync-"+filepath.Base(c.Dest))
		if c.isSet() {
			c.StagingDir = filepath.Join(c.Dest, SetStagingName)
		}
	}
	for _, p := range []*string{&c.StagingDir, &c.Within} {
		if *p != "" {
			if abs, err := filepath.Abs(*p); err == nil {
				*p = abs
			} // else Validate reports it
		}
	}
	setDefault(&c.Streams, DefaultStreams)
	setDefault(&c.ChunkRetries, DefaultChunkRetries)
	setDefault(&c.MaxAttempts, DefaultMaxAttempts)
	setDefault(&c.RetryWait, DefaultRetryWait)
	setDefault(&c.ChunksPerRequest, DefaultChunksPerRequest)
	setDefault(&c.StallTimeout, DefaultStallTimeout)
	setDefault(&c.PlanWindow, defaultPlanWindow)
	c.ChunkSources = slices.Clone(c.ChunkSources) // named below: the caller's slice stays as it was
	for i := range c.ChunkSources {
		if c.ChunkSources[i].Name == "" {
			c.ChunkSources[i].Name = c.ChunkSources[i].URL
		}
	}
	if c.Immutable == nil {
		c.Immutable = DefaultImmutable
	}
	if c.HTTPClient == nil {
		c.HTTPClient = NewHTTPClient()
	}
	if c.Clock == nil {
		c.Clock = clockwork.NewRealClock()
	}
}

func setDefault[T int | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}

// Validate reports every problem of the configuration at once, each wrapped
// in ErrConfig.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	if c.FileModeMask&^fs.ModePerm != 0 {
		bad("FileModeMask %o has bits beyond 0777", uint32(c.FileModeMask))
	}
	for i, cs := range c.ChunkSources {
		if err := checkSource(cs.URL); err != nil {
			errs = append(errs, fmt.Errorf("chunk source %d: %w", i, err))
		}
	}
	switch {
	case c.Dest == "":
		bad("Dest is required")
	case !filepath.IsAbs(c.Dest):
		bad("Dest %q is not absolute", c.Dest)
	case filepath.Dir(c.Dest) == c.Dest:
		bad("Dest %q is a filesystem root", c.Dest)
	}
	switch {
	case c.Dest == "" || c.StagingDir == "":
	case c.isSet():
		if filepath.Dir(c.StagingDir) != c.Dest || slices.Contains(c.Replace, filepath.Base(c.StagingDir)) {
			bad("StagingDir %q must be an entry of Dest %q that Replace does not list", c.StagingDir, c.Dest)
		}
	case filepath.Dir(c.StagingDir) != filepath.Dir(c.Dest) || c.StagingDir == c.Dest:
		bad("StagingDir %q must be another entry of Dest's parent %q", c.StagingDir, filepath.Dir(c.Dest))
	}
	if c.Within != "" && c.StagingDir != "" {
		if r, err := filepath.Rel(c.Within, filepath.Dir(c.StagingDir)); err != nil || (r != "." && !filepath.IsLocal(r)) {
			bad("StagingDir %q does not lie below Within %q", c.StagingDir, c.Within)
		}
	}
	validateReplace(c.Replace, bad)
	if c.FreeSpaceHeadroom < NoFreeSpaceHeadroom {
		bad("FreeSpaceHeadroom %d is negative (NoFreeSpaceHeadroom is %d)", c.FreeSpaceHeadroom, NoFreeSpaceHeadroom)
	}
	errs = append(errs, c.validateFetch())
	return errors.Join(errs...)
}

// validateFetch reports every problem of the fields that tune fetching
// (those a Session uses), each wrapped in ErrConfig.
func (c *Config) validateFetch() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...))
	}
	for _, f := range []struct {
		name string
		v    int
	}{{"Streams", c.Streams}, {"ChunkRetries", c.ChunkRetries}, {"MaxAttempts", c.MaxAttempts}, {"ChunksPerRequest", c.ChunksPerRequest}, {"PlanWindow", c.PlanWindow}} {
		if f.v < 0 {
			bad("%s is negative (%d)", f.name, f.v)
		}
	}
	if c.Streams > 256 {
		bad("Streams %d exceeds 256", c.Streams)
	}
	if c.RetryWait < 0 || c.LeaseTTL < 0 || c.StallTimeout < 0 {
		bad("negative RetryWait, LeaseTTL or StallTimeout")
	}
	if c.LeaseTTL > 0 && (c.LeaseTTL < time.Millisecond || c.LeaseTTL.Milliseconds() > int64(^uint32(0))) {
		bad("LeaseTTL %v out of range", c.LeaseTTL)
	}
	if !wire.KnownCompression(c.Compression) {
		bad("unknown Compression %d", c.Compression)
	}
	return errors.Join(errs...)
}

// isSet reports whether c installs a set of entries (Replace).
func (c *Config) isSet() bool { return len(c.Replace) > 0 || c.setArea }

// DefaultImmutable accepts the files Pebble and RocksDB never change in place:
// SSTs and blob files.
func DefaultImmutable(p string) bool {
	ext := path.Ext(p)
	return ext == ".sst" || ext == ".blob"
}

// window is the plan window (PlanWindow once defaulted).
func (c *Config) window() int {
	if c.PlanWindow <= 0 {
		return defaultPlanWindow
	}
	return c.PlanWindow
}
