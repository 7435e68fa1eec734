package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/backend"
	"github.com/snapsync/snapsync/verify"
)

// repoHelp describes REPO for the commands that take one.
const repoHelp = "a directory path, file:///path or s3://bucket/prefix (credentials, endpoint and region from AWS_*)"

// openRepo opens the existing repository at location, creating nothing: a
// location that holds none is "no repository at LOCATION".
func openRepo(ctx context.Context, location string) (*repo.Repo, error) {
	b, err := backend.Open(ctx, location)
	if err == nil {
		var r *repo.Repo
		if r, err = repo.Open(ctx, b, nil); err == nil {
			return r, nil
		}
	}
	if nr := (*repo.NoRepositoryError)(nil); errors.As(err, &nr) {
		return nil, fmt.Errorf("no repository at %s: %s", location, nr.Reason)
	}
	return nil, fmt.Errorf("repository %s: %w", location, err)
}

// createRepo opens the repository at location, creating it (the directory
// and the config object) if there is none: for backup only.
func createRepo(ctx context.Context, location string) (*repo.Repo, error) {
	b, err := backend.Create(ctx, location)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", location, err)
	}
	r, err := repo.OpenOrCreate(ctx, b, nil)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", location, err)
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
