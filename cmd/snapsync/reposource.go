package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/verify"
)

// repoOnlyFlags apply to a repo: source only.
var repoOnlyFlags = []string{"repo-snapshot", "repo-key-file"}

// notForRepo are the serve flags that do not apply to a repo: source, with
// why: a repository snapshot is committed already (nothing to checkpoint,
// chunk or lease for real) and its chunks are sent as stored, through
// server.StoreHandler, which has no stream limit, rate limit or frame cache
// of its own. Given explicitly, they are refused rather than ignored, so
// that nobody believes a limit holds that does not.
var notForRepo = []struct{ name, why string }{
	{"work-dir", "a repository snapshot needs no checkpoints or lease state"},
	{"chunk-size", "the snapshot is chunked already"},
	{"lease-ttl", "leases on a repository snapshot are nominal: the repository lock holds it"},
	{"reuse-within", "there is no checkpoint to make or reuse"},
	{"checkpoint-command", "there is no checkpoint to make"},
	{"checkpoint-timeout", "there is no checkpoint to make"},
	{"engine", "the engine is the one the snapshot's manifest names"},
	{"compression", "chunks are sent raw, as stored"},
	{"frame-cache", "chunks are sent raw, as stored"},
	{"max-streams", "a repository source does not limit streams; --max-conns bounds connections"},
	{"rate-limit", "a repository source does not limit its rate"},
}

// checkSourceFlags refuses the flags given explicitly that do not apply to
// the kind of source: the repo: source's to another kind, and notForRepo to
// a repo: source.
func (f *serveFlags) checkSourceFlags(fl *pflag.FlagSet, isRepo bool) error {
	if !isRepo {
		for _, name := range repoOnlyFlags {
			if fl.Changed(name) {
				return fmt.Errorf("--%s needs a repo: source, not --source %q", name, f.source)
			}
		}
		return nil
	}
	var refused []string
	for _, n := range notForRepo {
		if fl.Changed(n.name) {
			refused = append(refused, fmt.Sprintf("--%s (%s)", n.name, n.why))
		}
	}
	if len(refused) > 0 {
		return fmt.Errorf("--source %s: %s: does not apply to a repo: source", f.source, strings.Join(refused, "; "))
	}
	if f.source == "repo:" {
		return fmt.Errorf("--source repo: needs a repository: repo:REPO, REPO %s", repoHelp)
	}
	_, err := parseRepoSnapshot(f.repoSnapshot)
	return err
}

// parseRepoSnapshot parses --repo-snapshot as restore's --snapshot.
func parseRepoSnapshot(s string) (verify.Digest, error) {
	d, err := parseSnapshot(s)
	if err != nil {
		return d, fmt.Errorf("--repo-snapshot: %w", err)
	}
	return d, nil
}

// repoLockCheck is how often a repo: source checks that its repository lock
// still holds.
const repoLockCheck = time.Minute

// repoSource is a repo: source: one snapshot of a repository, open, served
// by the SnapshotService a live source's is (server.StoreHandler), under
// the repository's shared lock, as restore serves it.
type repoSource struct {
	handler http.Handler
	lock    *repo.Lock
	log     zerolog.Logger
}

// openRepoSource opens the existing repository at location (creating
// nothing), takes its shared lock, so that a prune waits until the serve
// ends, and opens the snapshot --repo-snapshot names.
func (f *serveFlags) openRepoSource(ctx context.Context, location string, log zerolog.Logger) (*repoSource, error) {
	id, err := parseRepoSnapshot(f.repoSnapshot)
	if err != nil {
		return nil, err
	}
	sr, err := openServedRepo(ctx, location, f.repoKey, id, log)
	if err != nil {
		return nil, err
	}
	info := sr.store.Info()
	log.Info().Str("repository", location).Str("snapshot", info.ID.String()).
		Uint64("term", info.Term).Uint64("index", info.Index).Msg("serving a repository snapshot")
	return &repoSource{handler: server.StoreHandler(sr.store, log), lock: sr.lock, log: log}, nil
}

// watch ends the serve when the repository lock is lost (it could not be
// refreshed for long enough that a prune may run): the snapshot's chunks
// are no longer protected.
func (s *repoSource) watch(ctx context.Context) error {
	t := time.NewTicker(repoLockCheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := s.lock.Check(); err != nil {
			return fmt.Errorf("repo: source: %w", err)
		}
	}
}

// close releases the repository lock.
func (s *repoSource) close(ctx context.Context) error {
	return s.lock.Unlock(context.WithoutCancel(ctx))
}
