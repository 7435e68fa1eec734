package dir

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"

	"github.com/snapsync/snapsync/source"
	"github.com/snapsync/snapsync/verify"
)

// Source serves one immutable checkpoint directory that its owner made
// (e.g. RocksDB's `ldb checkpoint`). The server never deletes it.
type Source struct {
	dir  string
	meta verify.Meta
}

var (
	_ source.Source = (*Source)(nil)
	_ source.Prober = (*Source)(nil)
)

// New returns a source for the checkpoint at dir. An empty
// meta.Engine is guessed from the files at the root ("pebble" when a Pebble
// marker is present, "rocksdb" when only OPTIONS-* files are, else
// "unknown"); a zero meta.CreatedUnixNano becomes dir's modification time,
// so the snapshot ID stays the same across restarts.
func New(dir string, meta verify.Meta) (*Source, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: dir %s: %w", source.ErrBadSource, dir, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", source.ErrBadSource, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a directory", source.ErrBadSource, abs)
	}
	if meta.Engine == "" {
		if meta.Engine, err = guessEngine(abs); err != nil {
			return nil, err
		}
	}
	if meta.CreatedUnixNano == 0 {
		meta.CreatedUnixNano = fi.ModTime().UnixNano()
	}
	return &Source{dir: abs, meta: meta}, nil
}

// guessEngine names the engine whose files sit at dir's root.
func guessEngine(dir string) (string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("%w: %w", source.ErrBadSource, err)
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
func (s *Source) Checkpoint(ctx context.Context, _ string, _ uint64) (source.Checkpoint, error) {
	if err := ctx.Err(); err != nil {
		return source.Checkpoint{}, context.Cause(ctx)
	}
	if _, err := os.Stat(s.dir); err != nil {
		return source.Checkpoint{}, fmt.Errorf("%w: %w", source.ErrBadSource, err)
	}
	meta := s.meta
	meta.Labels = maps.Clone(s.meta.Labels)
	return source.Checkpoint{Dir: s.dir, Meta: meta, Owned: false}, nil
}

// Newest reports the directory's term and index; it never makes another.
func (s *Source) Newest(context.Context) (source.Newest, error) {
	return source.Newest{Term: s.meta.Term, Index: s.meta.Index, Engine: s.meta.Engine}, nil
}

// Close does nothing: the directory belongs to its owner.
func (s *Source) Close() error { return nil }
