package main

import (
	"context"
	"fmt"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/backend"
	"github.com/snapsync/snapsync/verify"
)

// repoHelp describes REPO for the commands that take one.
const repoHelp = "a directory path, file:///path or s3://bucket/prefix (credentials, endpoint and region from AWS_*)"

// openRepo opens the repository at location, creating it if it is empty.
func openRepo(ctx context.Context, location string) (*repo.Repo, error) {
	b, err := backend.Open(ctx, location)
	if err != nil {
		return nil, fmt.Errorf("repository %s: %w", location, err)
	}
	r, err := repo.Open(ctx, b, nil)
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
