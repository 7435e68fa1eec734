package backend

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/dir"
	"github.com/snapsync/snapsync/repo/s3"
)

// Open returns the backend of the existing repository location names:
// s3://bucket[/prefix], or a local directory as a path or file:// URL. It
// creates nothing: a directory that does not exist is a
// *repo.NoRepositoryError. Another scheme is refused rather than taken for a
// directory name.
func Open(ctx context.Context, location string) (repo.Backend, error) {
	return open(ctx, location, os.Getenv, dir.Open)
}

// Create returns the backend location names as Open does, creating a local
// directory that does not exist yet. Only what writes snapshots (a backup)
// should create one.
func Create(ctx context.Context, location string) (repo.Backend, error) {
	return open(ctx, location, os.Getenv, dir.New)
}

func open(ctx context.Context, location string, getenv func(string) string, openDir func(string) (*dir.Backend, error)) (repo.Backend, error) {
	scheme, rest, ok := strings.Cut(location, "://")
	switch {
	case location == "":
		return nil, fmt.Errorf("backend: no repository location")
	case !ok:
		return dirBackend(openDir(location))
	case scheme == "file":
		return dirBackend(openDir(rest))
	case scheme == "s3":
		cfg, err := s3.FromURL(location, getenv)
		if err != nil {
			return nil, err
		}
		return s3.New(ctx, cfg)
	}
	return nil, fmt.Errorf("backend: %q: unknown scheme %q (want a directory or s3://bucket/prefix)", location, scheme)
}

// dirBackend returns b as a repo.Backend, or nil (not a nil *dir.Backend) on
// an error.
func dirBackend(b *dir.Backend, err error) (repo.Backend, error) {
	if err != nil {
		return nil, err
	}
	return b, nil
}
