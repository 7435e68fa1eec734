package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/verify"
)

// chunkSourceFlags are install's and restore's --chunks-from: sidecars and
// repositories to take chunks from by digest (client.Config.ChunkSources).
type chunkSourceFlags struct {
	from []string
	key  keyFlag // of the repositories among them
}

// add defines --PREFIXchunks-from and --PREFIXchunks-key-file.
func (f *chunkSourceFlags) add(fl *pflag.FlagSet, prefix, rest string) {
	fl.StringArrayVar(&f.from, prefix+"chunks-from", nil, "take chunks from this sidecar URL or repository (a directory, file:// or s3://) "+
		"where it has them, the rest from "+rest+"; repeatable, cheapest first; every chunk is verified, a source that fails is dropped")
	f.key.add(fl, prefix+"chunks-key-file", "the key file of the encrypted repositories among --"+prefix+"chunks-from (as --key-file)")
}

// open turns the flags into chunk sources: a URL as it is (checked as
// --from is, reached with the install's client), a repository opened under
// its shared lock and served inside this process (its SnapshotService over
// in-memory pipes, as restore serves one). close releases them.
func (f *chunkSourceFlags) open(ctx context.Context, trust *trustFlags, log zerolog.Logger) (_ []client.ChunkSource, _ func(), err error) {
	var closers []func()
	closeAll := func() {
		for i := len(closers) - 1; i >= 0; i-- {
			closers[i]()
		}
	}
	defer func() {
		if err != nil {
			closeAll() // what was opened before the failure
		}
	}()
	var out []client.ChunkSource
	for _, src := range f.from {
		if isURL(src) {
			if err := trust.checkSourceURLs(src); err != nil {
				return nil, nil, fmt.Errorf("--chunks-from %w", err)
			}
			out = append(out, client.ChunkSource{Name: src, URL: src})
			continue
		}
		cs, stop, err := f.openRepo(ctx, src, log)
		if err != nil {
			return nil, nil, fmt.Errorf("--chunks-from %s: %w", src, err)
		}
		closers = append(closers, stop)
		out = append(out, cs)
	}
	return out, closeAll, nil
}

// openRepo serves the repository at location in this process as a chunk
// source, under its shared lock (a prune waits, and cannot delete a chunk
// being read).
func (f *chunkSourceFlags) openRepo(ctx context.Context, location string, log zerolog.Logger) (client.ChunkSource, func(), error) {
	sr, err := openServedRepo(ctx, location, f.key, verify.Digest{}, log)
	if errors.Is(err, repo.ErrNotFound) {
		err = fmt.Errorf("no snapshot to serve chunks of: %w", err)
	}
	if err != nil {
		return client.ChunkSource{}, nil, err
	}
	url, hc, stop := serveInProc(ctx, sr.store.HTTPHandler())
	return client.ChunkSource{Name: location, URL: url, HTTPClient: hc}, func() {
		stop()
		if err := sr.unlock(ctx); err != nil {
			log.Warn().Err(err).Str("repository", location).Msg("unlock chunk source")
		}
	}, nil
}

// opener is a sidecar's chunk sources (sidecar.InstallConfig.ChunkSources):
// each Prepare opens them afresh, so a repository's newest backups count and
// its lock is held only while an install runs; a source that cannot be
// opened is left out with a warning. nil without --install-chunks-from. The
// URLs are checked now, as --from's are.
func (f *chunkSourceFlags) opener(trust *trustFlags, log zerolog.Logger) (func(context.Context) ([]client.ChunkSource, func()), error) {
	if len(f.from) == 0 {
		return nil, nil
	}
	for _, src := range f.from {
		if isURL(src) {
			if err := trust.checkSourceURLs(src); err != nil {
				return nil, fmt.Errorf("--install-chunks-from %w", err)
			}
		}
	}
	return func(ctx context.Context) ([]client.ChunkSource, func()) {
		var out []client.ChunkSource
		var closers []func()
		for _, src := range f.from {
			if isURL(src) {
				out = append(out, client.ChunkSource{Name: src, URL: src})
				continue
			}
			cs, stop, err := f.openRepo(ctx, src, log)
			if err != nil {
				log.Warn().Err(err).Str("chunk_source", src).Msg("chunk source left out of this install")
				continue
			}
			out, closers = append(out, cs), append(closers, stop)
		}
		return out, func() {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}
	}, nil
}

// isURL tells a sidecar's URL from a repository location.
func isURL(src string) bool {
	return strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://")
}
