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

// Open returns the backend that location names: s3://bucket[/prefix], or
// a local directory as a path or file:// URL. Another scheme is refused
// rather than taken for a directory name.
func Open(ctx context.Context, location string) (repo.Backend, error) {
	return open(ctx, location, os.Getenv)
}

func open(ctx context.Context, location string, getenv func(string) string) (repo.Backend, error) {
	scheme, rest, ok := strings.Cut(location, "://")
	switch {
	case location == "":
		return nil, fmt.Errorf("backend: no repository location")
	case !ok:
		return dir.New(location)
	case scheme == "file":
		return dir.New(rest)
	case scheme == "s3":
		cfg, err := s3.FromURL(location, getenv)
		if err != nil {
			return nil, err
		}
		return s3.New(ctx, cfg)
	}
	return nil, fmt.Errorf("backend: %q: unknown scheme %q (want a directory or s3://bucket/prefix)", location, scheme)
}
