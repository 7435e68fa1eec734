package server

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/snapsync/snapsync/verify"
)

// DirSource serves one immutable checkpoint directory that its owner made
// (e.g. RocksDB's `ldb checkpoint`). The server never deletes it.
type DirSource struct {
	dir  string
	meta verify.Meta
}

// NewDirSource returns a source for the checkpoint at dir. An empty
// meta.Engine is guessed from the files at the root ("pebble" when a Pebble
// marker is present, "rocksdb" when only OPTIONS-* files are, else
// "unknown"); a zero meta.CreatedUnixNano becomes dir's modification time,
// so the snapshot ID stays the same across restarts.
func NewDirSource(dir string, meta verify.Meta) (*DirSource, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: dir %s: %w", ErrBadSource, dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadSource, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", ErrBadSource, abs)
	}
	if meta.Engine == "" {
		if meta.Engine, err = guessEngine(abs); err != nil {
			return nil, err
		}
	}
	if meta.CreatedUnixNano == 0 {
		meta.CreatedUnixNano = fi.ModTime().UnixNano()
	}
	return &DirSource{dir: abs, meta: meta}, nil
}

// guessEngine names the engine whose files sit at dir's root.
func guessEngine(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrBadSource, err)
	}
	var options, marker bool
	for _, e := range ents {
		options = options || strings.HasPrefix(e.Name(), "OPTIONS-")
		marker = marker || strings.HasPrefix(e.Name(), "marker.")
	}
	switch {
	case marker:
		return "pebble", nil
	case options:
		return "rocksdb", nil
	}
	return "unknown", nil
}

// Checkpoint returns the directory itself, never owned; dir is unused.
func (s *DirSource) Checkpoint(ctx context.Context, _ string, _ uint64) (Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return Checkpoint{}, context.Cause(ctx)
	}
	if _, err := os.Stat(s.dir); err != nil {
		return Checkpoint{}, fmt.Errorf("%w: %w", ErrBadSource, err)
	}
	meta := s.meta
	meta.Labels = maps.Clone(s.meta.Labels)
	return Checkpoint{Dir: s.dir, Meta: meta, Owned: false}, nil
}

// Close does nothing: the directory belongs to its owner.
func (s *DirSource) Close() error { return nil }
