package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/rs/zerolog"
	"github.com/spf13/pflag"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/backend"
	"github.com/snapsync/snapsync/repo/serve"
	"github.com/snapsync/snapsync/verify"
)

// repoHelp describes REPO for the commands that take one.
const repoHelp = "a directory path, file:///path or s3://bucket/prefix (credentials, endpoint and region from AWS_*)"

// keyFlag is a repository command's --key-file: the key file of an
// encrypted repository (repo.ReadKeyFile), read once the command runs.
type keyFlag struct {
	path string
	name string // the flag's name: key-file (serve: repo-key-file)
}

// keyFileHelp describes --key-file.
const keyFileHelp = "the key file of an encrypted repository: 64 hex digits, mode 0600 or 0400 (make one with snapsync repo keygen); never logged"

func (k *keyFlag) add(fl *pflag.FlagSet, name, help string) {
	k.name = name
	fl.StringVar(&k.path, name, "", help)
}

// load reads the key file; without --key-file, nil.
func (k keyFlag) load() (*repo.Key, error) {
	if k.path == "" {
		return nil, nil
	}
	key, err := repo.ReadKeyFile(k.path)
	if err != nil {
		return nil, fmt.Errorf("--%s: %w", k.name, err)
	}
	return key, nil
}

// explain says what to do about err, opening the repository at location:
// pass the flag, drop it, or use the right key.
func (k keyFlag) explain(location string, err error) error {
	switch {
	case errors.Is(err, repo.ErrKeyNeeded):
		return fmt.Errorf("repository %s is encrypted: pass --%s: %w", location, k.name, err)
	case errors.Is(err, repo.ErrWrongKey):
		return fmt.Errorf("repository %s: wrong key: --%s %s does not open it: %w", location, k.name, k.path, err)
	case errors.Is(err, repo.ErrNotEncrypted):
		return fmt.Errorf("repository %s is not encrypted: drop --%s: %w", location, k.name, err)
	}
	return fmt.Errorf("repository %s: %w", location, err)
}

// openRepo opens the existing repository at location with the key k
// names, creating nothing: a location that holds none is "no repository
// at LOCATION".
func openRepo(ctx context.Context, location string, k keyFlag) (*repo.Repo, error) {
	key, err := k.load()
	if err != nil {
		return nil, err
	}
	b, err := backend.Open(ctx, location)
	if err == nil {
		var r *repo.Repo
		if r, err = repo.Open(ctx, b, &repo.Options{Key: key}); err == nil {
			return r, nil
		}
	}
	if nr := (*repo.NoRepositoryError)(nil); errors.As(err, &nr) {
		return nil, fmt.Errorf("no repository at %s: %s", location, nr.Reason)
	}
	return nil, k.explain(location, err)
}

// servedRepo is a snapshot of a repository opened to be served (restore,
// a repository among chunk sources, serve --source repo:): the store, and
// the repository's shared lock, held so that a prune waits and cannot
// delete a chunk being read.
type servedRepo struct {
	store *serve.Store
	lock  *repo.Lock
}

// openServedRepo opens the existing repository at location, takes its
// shared lock and opens snapshot id (zero: the newest), logging what in the
// repository is no snapshot. On error nothing is left locked.
func openServedRepo(ctx context.Context, location string, k keyFlag, id verify.Digest, log zerolog.Logger) (*servedRepo, error) {
	r, err := openRepo(ctx, location, k)
	if err != nil {
		return nil, err
	}
	lock, err := r.Lock(ctx)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", location, err)
	}
	st, err := serve.New(ctx, r, id)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("repository %s: %w", location, err), lock.Unlock(context.WithoutCancel(ctx)))
	}
	for _, p := range st.Problems() {
		log.Warn().Str("key", p.Key).Str("problem", p.Reason).Msg("repository entry that is no snapshot")
	}
	return &servedRepo{store: st, lock: lock}, nil
}

// unlock releases the repository's lock, even once ctx is done.
func (s *servedRepo) unlock(ctx context.Context) error {
	return s.lock.Unlock(context.WithoutCancel(ctx))
}

// createRepo opens the repository at location, creating it (the directory
// and the config object, encrypted if k names a key file) if there is
// none: for backup only.
func createRepo(ctx context.Context, location string, k keyFlag) (*repo.Repo, error) {
	key, err := k.load()
	if err != nil {
		return nil, err
	}
	b, err := backend.Create(ctx, location)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", location, err)
	}
	r, err := repo.OpenOrCreate(ctx, b, &repo.Options{Key: key})
	if err != nil {
		return nil, k.explain(location, err)
	}
	return r, nil
}

// parseSnapshot parses --snapshot: a snapshot ID, or "" / "latest" for the
// zero ID (the newest).
func parseSnapshot(s string) (verify.Digest, error) {
	if s == "" || s == "latest" {
		return verify.Digest{}, nil
	}
	id, err := verify.ParseDigest(s)
	if err != nil {
		return id, fmt.Errorf("--snapshot %q: want a snapshot ID (64 hex digits) or latest: %w", s, err)
	}
	return id, nil
}
