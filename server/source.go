package server

import (
	"context"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/verify"
)

// Checkpoint is a consistent, immutable directory tree and what it reflects.
type Checkpoint struct {
	// Dir is the root of the tree.
	Dir string
	// Meta is the term, index, engine and labels it reflects; the source sets
	// CreatedUnixNano.
	Meta verify.Meta
	// Owned is true when the server made the tree under its WorkDir and
	// removes it once no lease holds it; false for a tree someone else owns,
	// which the server never deletes.
	Owned bool
}

// Source yields checkpoints.
type Source interface {
	// Checkpoint returns a checkpoint reflecting at least minIndex where the
	// source can tell; an owned one is created at dir, which does not exist
	// yet (its parent does).
	Checkpoint(ctx context.Context, dir string, minIndex uint64) (Checkpoint, error)
	// Close releases what the source holds (e.g. the DB it opened).
	Close() error
}

var (
	_ Source = (*PebbleSource)(nil)
	_ Source = (*DirSource)(nil)
)

// ParseSource opens the source that spec names: "pebble:DIR" opens the Pebble
// DB at DIR (the source owns it), "dir:DIR" serves the immutable checkpoint
// directory DIR.
func ParseSource(spec string, log zerolog.Logger) (Source, error) {
	kind, dir, ok := strings.Cut(spec, ":")
	if !ok || dir == "" {
		return nil, fmt.Errorf("%w: source %q: want pebble:DIR or dir:DIR", ErrBadSource, spec)
	}
	switch kind {
	case "pebble":
		return OpenPebble(dir, log, MustExist())
	case "dir":
		return NewDirSource(dir, verify.Meta{})
	}
	return nil, fmt.Errorf("%w: source %q: unknown kind %q, want pebble:DIR or dir:DIR", ErrBadSource, spec, kind)
}
