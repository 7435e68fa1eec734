package backup

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/verify"
)

// Config configures one backup.
type Config struct {
	// Source is the base URL of the serving sidecar. Required.
	Source string
	// Repo is the repository backed up into. Required.
	Repo *repo.Repo
	// HTTPClient talks to Source. Default client.NewHTTPClient().
	HTTPClient *http.Client
	// MinIndex asks for a checkpoint reflecting at least this index; a
	// source with none fails the backup with client.ErrMinIndex. Default 0.
	MinIndex uint64
	// Labels are added to the snapshot object. Default none.
	Labels map[string]string
	// Streams is how many FetchChunks streams run at once. Default 4.
	Streams int
	// Compression is what chunks are asked for as. Default: the server's choice.
	Compression snapsyncv1.Compression
	// StallTimeout fails the backup with client.ErrStalled when the source
	// sends no progress (headers, or 32 KiB) for this long, as it fails an
	// install. Default: client.DefaultStallTimeout.
	StallTimeout time.Duration
	// RetryWait is the first backoff between attempts of a call the source
	// dropped, as an install's. Default: client.DefaultRetryWait.
	RetryWait time.Duration
	// Tee, when set, is the source's Config.OnHashed (a source served in
	// this process): Run attaches it to Repo before it asks for the
	// checkpoint, so the chunks the manifest build hashes are stored as they
	// are read. Default: none.
	Tee *Tee
	// Progress, when set, receives the backup's progress from one goroutine.
	Progress func(Progress)
	// Logger receives the backup's log. Default: none.
	Logger zerolog.Logger
}

// Progress is a backup's advance.
type Progress struct {
	BytesTotal int64 // raw bytes of the snapshot's distinct chunks
	BytesDone  int64 // of those, found in the repository or uploaded
	BytesWire  int64 // chunk bytes received from the source
	BytesNew   int64 // bytes stored in the repository
}

// Result is what a finished backup did.
type Result struct {
	SnapshotID   verify.Digest
	Term, Index  uint64
	Files        int
	BytesTotal   int64 // file bytes, each hard-link group once
	BytesNew     int64 // bytes stored in the repository (compressed)
	BytesFetched int64 // chunk bytes received from the source
	ChunksNew    int
	ChunksReused int
	Duration     time.Duration
	Info         repo.SnapshotInfo
}

// Validate reports every problem of c at once.
func (c *Config) Validate() error {
	var errs []error
	if c.Source == "" {
		errs = append(errs, errors.New("backup: Source is required"))
	}
	if c.Repo == nil {
		errs = append(errs, errors.New("backup: Repo is required"))
	}
	if c.Streams < 0 || c.StallTimeout < 0 || c.RetryWait < 0 {
		errs = append(errs, fmt.Errorf("backup: Streams %d, StallTimeout %v and RetryWait %v must not be negative",
			c.Streams, c.StallTimeout, c.RetryWait))
	}
	return errors.Join(errs...)
}

// fetchConfig is the configuration of the fetch: an install's, with the
// repository in place of the destination.
func (c *Config) fetchConfig() client.Config {
	return client.Config{Streams: c.Streams, Compression: c.Compression, StallTimeout: c.StallTimeout,
		RetryWait: c.RetryWait, HTTPClient: c.HTTPClient, Logger: c.Logger}
}

// Run backs up one checkpoint of cfg.Source into cfg.Repo. It fetches
// through package client, as an install does (client.Open and
// Session.Fetch: the same lease, manifest checks, retries, stall bound and
// chunk verification), with the repository as the chunks' sink; with a Tee,
// the chunks the source's manifest build hashes are stored first, as it
// reads them. It holds the repository's shared backup lock from before the
// first chunk is stored until after its commit, so a prune cannot delete
// what it relies on.
func Run(ctx context.Context, cfg Config) (res Result, err error) {
	if err := cfg.Validate(); err != nil {
		return Result{}, err
	}
	if cfg.Streams == 0 {
		cfg.Streams = client.DefaultStreams
	}
	start := time.Now()
	lock, err := cfg.Repo.Lock(ctx)
	if err != nil {
		return Result{}, err
	}
	defer func() {
		if uerr := lock.Unlock(context.WithoutCancel(ctx)); uerr != nil {
			err = errors.Join(err, uerr)
		}
	}()
	if cfg.Tee != nil {
		cfg.Tee.repo.Store(cfg.Repo)
		defer cfg.Tee.repo.Store(nil)
	}
	src, err := client.Open(ctx, cfg.Source, cfg.MinIndex, cfg.fetchConfig())
	if err != nil {
		return Result{}, err
	}
	defer src.Close()
	u := newUpload(&cfg, src)
	if err := u.run(ctx); err != nil {
		return Result{}, err
	}
	m, id := src.Manifest(), src.ID()
	if _, err := cfg.Repo.PutManifest(ctx, m); err != nil {
		return Result{}, err
	}
	if err := lock.Check(); err != nil {
		return Result{}, err
	}
	info, err := cfg.Repo.Commit(ctx, id, repo.WithLabels(cfg.Labels))
	if err != nil {
		return Result{}, err
	}
	cfg.Logger.Info().Str("snapshot", id.Short()).Int("chunks_new", u.chunksNew).
		Int64("bytes_new", u.ctr.stored.Load()).Int64("bytes_fetched", src.BytesFetched()).Msg("backup committed")
	return Result{
		SnapshotID: id, Term: m.Meta.Term, Index: m.Meta.Index, Files: len(m.Files),
		BytesTotal: m.TotalBytes(), BytesNew: u.ctr.stored.Load(), BytesFetched: src.BytesFetched(),
		ChunksNew: u.chunksNew, ChunksReused: u.chunksReused, Duration: time.Since(start), Info: info,
	}, nil
}
