package pebble

import (
	"context"
	"fmt"
	"os"
	"time"

	pebbledb "github.com/cockroachdb/pebble/v2"
	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/source"
	"github.com/snapsync/snapsync/verify"
)

// Source makes checkpoints of a Pebble DB it opened and owns: a live
// Pebble DB cannot be opened by a second process, so whoever writes to it
// does so through DB.
type Source struct {
	db        *pebbledb.DB
	dir       string
	metaFn    MetaFunc
	mustExist bool
	log       zerolog.Logger
}

// MetaFunc reads what a checkpoint reflects (e.g. the Raft term and index the
// DB owner stores in the DB). It is called just before each checkpoint, so
// the index it returns is a lower bound of what the checkpoint holds.
type MetaFunc func(ctx context.Context, db *pebbledb.DB) (verify.Meta, error)

// Option configures Open.
type Option func(*Source)

var (
	_ source.Source = (*Source)(nil)
	_ source.Prober = (*Source)(nil)
)

// WithMeta sets the function that reads each checkpoint's metadata. Without
// it the term and index are 0 (unknown) and the engine is "pebble".
func WithMeta(fn MetaFunc) Option { return func(s *Source) { s.metaFn = fn } }

// MustExist makes Open refuse a directory that holds no Pebble DB
// instead of creating an empty one: what an operator who names a DB to serve
// means.
func MustExist() Option { return func(s *Source) { s.mustExist = true } }

// Open opens (or, without MustExist, creates) the Pebble DB at dir; the
// source owns it until Close.
func Open(dir string, log zerolog.Logger, opts ...Option) (*Source, error) {
	s := &Source{dir: dir, log: log.With().Str("source", "pebble:"+dir).Logger()}
	for _, o := range opts {
		o(s)
	}
	if s.mustExist {
		// Pebble makes the directory before it finds no DB there.
		if _, err := os.Stat(dir); err != nil {
			return nil, fmt.Errorf("%w: pebble %s: %w", source.ErrBadSource, dir, err)
		}
	}
	db, err := pebbledb.Open(dir, &pebbledb.Options{Logger: pebbleLogger{s.log}, ErrorIfNotExists: s.mustExist})
	if err != nil {
		return nil, fmt.Errorf("%w: open pebble %s: %w", source.ErrBadSource, dir, err)
	}
	s.db = db
	return s, nil
}

// DB returns the open database, for the caller to write through.
func (s *Source) DB() *pebbledb.DB { return s.db }

// Checkpoint hard-links a consistent checkpoint of the DB (WAL flushed) into
// dir.
func (s *Source) Checkpoint(ctx context.Context, dir string, _ uint64) (source.Checkpoint, error) {
	meta := verify.Meta{Engine: "pebble"}
	if s.metaFn != nil {
		m, err := s.metaFn(ctx, s.db)
		if err != nil {
			return source.Checkpoint{}, fmt.Errorf("read checkpoint meta: %w", err)
		}
		meta = m
	}
	if err := ctx.Err(); err != nil {
		return source.Checkpoint{}, context.Cause(ctx)
	}
	meta.CreatedUnixNano = time.Now().UnixNano()
	if err := s.db.Checkpoint(dir, pebbledb.WithFlushedWAL()); err != nil {
		return source.Checkpoint{}, fmt.Errorf("pebble checkpoint %s: %w", dir, err)
	}
	return source.Checkpoint{Dir: dir, Meta: meta, Owned: true}, nil
}

// Newest reports what a checkpoint made now would reflect, read through the
// MetaFunc (term and index 0 without one); it makes none.
func (s *Source) Newest(ctx context.Context) (source.Newest, error) {
	n := source.Newest{Engine: "pebble", OnDemand: true}
	if s.metaFn == nil {
		return n, nil
	}
	m, err := s.metaFn(ctx, s.db)
	if err != nil {
		return source.Newest{}, fmt.Errorf("read checkpoint meta: %w", err)
	}
	n.Term, n.Index = m.Term, m.Index
	if m.Engine != "" {
		n.Engine = m.Engine
	}
	return n, nil
}

// Close closes the DB.
func (s *Source) Close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close pebble %s: %w", s.dir, err)
	}
	return nil
}

// pebbleLogger sends Pebble's logs to zerolog: its chatty info at debug.
type pebbleLogger struct{ log zerolog.Logger }

func (l pebbleLogger) Infof(format string, args ...any) { l.log.Debug().Msgf(format, args...) }

func (l pebbleLogger) Errorf(format string, args ...any) { l.log.Error().Msgf(format, args...) }

// Fatalf must not return: Pebble calls it on broken invariants.
func (l pebbleLogger) Fatalf(format string, args ...any) {
	l.log.Error().Msgf(format, args...)
	panic(fmt.Sprintf("pebble: "+format, args...))
}

// Logger returns a Pebble logger that writes to log, Pebble's chatty info at
// debug level, for callers that open Pebble DBs of their own.
func Logger(log zerolog.Logger) pebbledb.Logger { return pebbleLogger{log} }
