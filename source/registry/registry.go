package registry

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/source"
	"github.com/snapsync/snapsync/verify"
)

// ErrRejected wraps every reason a registration is refused.
var ErrRejected = errors.New("registry: checkpoint rejected")

// Config configures a Source.
type Config struct {
	// Root is the directory every registered or command-made checkpoint must
	// be under. Required.
	Root string
	// Maker, if set, is asked for a checkpoint when no registered one
	// reaches a request's index and no node watches for checkpoint requests
	// (Watch) (package exec's Command runs a program). Default: none.
	Maker Maker
	// RequestTimeout bounds how long a checkpoint request sent to watching
	// nodes waits for a registration reaching its index. Default
	// DefaultRequestTimeout.
	RequestTimeout time.Duration
	// Engine names the DB engine for manifests. Default "rocksdb".
	Engine string
	// Logger receives structured logs. Default: discard.
	Logger zerolog.Logger
}

// Source serves registered checkpoints. It is safe for concurrent use.
type Source struct {
	cfg  Config
	root string // Root, absolute and with symlinks resolved
	// mu guards newest. Checkpoint holds it for reading while it links a
	// tree, so Register never deletes a tree that is being linked.
	mu sync.RWMutex
	// newest is the newest registered checkpoint; older ones are deleted
	// when a newer one arrives.
	newest *entry
	// reqs sends checkpoint requests to watching nodes.
	reqs *requests
}

type entry struct {
	dir  string
	meta verify.Meta
}

var (
	_ source.Source = (*Source)(nil)
	_ source.Prober = (*Source)(nil)
)

// New returns a Source rooted at cfg.Root, which must exist.
func New(cfg Config) (*Source, error) {
	if cfg.Root == "" {
		return nil, fmt.Errorf("%w: registry root is required", source.ErrBadSource)
	}
	root, err := filepath.EvalSymlinks(cfg.Root)
	if err == nil {
		root, err = filepath.Abs(root)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: registry root: %w", source.ErrBadSource, err)
	}
	if cfg.Engine == "" {
		cfg.Engine = "rocksdb"
	}
	s := &Source{cfg: cfg, root: root}
	s.load()
	s.reqs = newRequests(cfg.RequestTimeout, cfg.Logger)
	if s.newest != nil {
		s.reqs.registered(s.newest.meta.Index, "")
	}
	return s, nil
}

func (s *Source) meta(term, index uint64, labels map[string]string) verify.Meta {
	return verify.Meta{Term: term, Index: index, Engine: s.cfg.Engine,
		CreatedUnixNano: time.Now().UnixNano(), Labels: maps.Clone(labels)}
}

// Register offers the checkpoint at dir, reflecting term and index. It must
// be a directory under Root holding only directories and regular files, and
// newer than what is registered (a lower or equal index is refused). The
// previously newest checkpoint is deleted: the server serves from its own
// hard-linked copies. A registration answers every checkpoint request
// (Watch) whose index it reaches.
func (s *Source) Register(ctx context.Context, dir string, term, index uint64, labels map[string]string,
	opts ...RegisterOption) error {
	var o registerOptions
	for _, opt := range opts {
		opt(&o)
	}
	abs, err := s.validate(ctx, dir)
	if err != nil {
		return err
	}
	meta := s.meta(term, index, labels)
	s.mu.Lock()
	defer s.mu.Unlock()
	old := s.newest
	if old != nil && index <= old.meta.Index {
		return fmt.Errorf("%w: index %d is not beyond the registered %d", ErrRejected, index, old.meta.Index)
	}
	e := &entry{dir: abs, meta: meta}
	if err := s.save(e); err != nil {
		return err
	}
	s.newest = e
	s.reqs.registered(index, o.requestID)
	s.cfg.Logger.Info().Str("dir", abs).Uint64("term", term).Uint64("index", index).Str("request_id", o.requestID).
		Msg("checkpoint registered")
	if old != nil && old.dir != abs {
		if err := os.RemoveAll(old.dir); err != nil {
			s.cfg.Logger.Warn().Err(err).Str("dir", old.dir).Msg("remove superseded checkpoint")
		}
	}
	return nil
}

// validate resolves dir and checks it is a plain tree under Root.
func (s *Source) validate(ctx context.Context, dir string) (string, error) {
	if !filepath.IsAbs(dir) {
		return "", fmt.Errorf("%w: %q is not an absolute path", ErrRejected, dir)
	}
	abs, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrRejected, err)
	}
	rel, err := filepath.Rel(s.root, abs)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %s is not under the allowed root %s", ErrRejected, dir, s.root)
	}
	if err := plainTree(ctx, abs); err != nil {
		return "", err
	}
	if !holdsDB(abs) {
		return "", fmt.Errorf("%w: %s is not a checkpoint: no MANIFEST-* file in it or in a directory directly below it",
			ErrRejected, dir)
	}
	return abs, nil
}

// holdsDB reports whether dir, or a directory directly below it (an Ozone
// Manager's checkpoint holds om.db/ beside its snapshot DBs), holds a
// RocksDB or Pebble DB: a regular file MANIFEST-*, which both engines write.
func holdsDB(dir string) bool {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return false
	}
	if hasManifest(entries) {
		return true
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if sub, err := os.ReadDir(filepath.Join(dir, e.Name())); err == nil && hasManifest(sub) {
			return true
		}
	}
	return false
}

func hasManifest(entries []os.DirEntry) bool {
	return slices.ContainsFunc(entries, func(e os.DirEntry) bool {
		return e.Type().IsRegular() && strings.HasPrefix(e.Name(), "MANIFEST-")
	})
}

// Checkpoint hard-links the newest registered checkpoint reaching minIndex
// into dir and returns it as owned. If none does, it first asks the nodes
// watching for requests, else Maker, for one; with neither it fails with
// source.ErrNoMaker (and source.ErrMinIndex).
func (s *Source) Checkpoint(ctx context.Context, dir string, minIndex uint64) (source.Checkpoint, error) {
	if e := s.current(); e == nil || e.meta.Index < minIndex {
		if err := s.make(ctx, minIndex); err != nil {
			return source.Checkpoint{}, err
		}
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.newest
	if e == nil {
		return source.Checkpoint{}, &source.MinIndexError{Want: minIndex}
	}
	if e.meta.Index < minIndex {
		return source.Checkpoint{}, &source.MinIndexError{Newest: e.meta.Index, Known: true, Want: minIndex}
	}
	if err := linkTree(ctx, e.dir, dir); err != nil {
		return source.Checkpoint{}, err
	}
	meta := e.meta
	meta.Labels = maps.Clone(e.meta.Labels)
	return source.Checkpoint{Dir: dir, Meta: meta, Owned: true}, nil
}

// Newest reports the newest registered checkpoint (index 0 when none); with
// a Maker the source makes one on demand, but Newest never asks it to.
func (s *Source) Newest(context.Context) (source.Newest, error) {
	n := source.Newest{Engine: s.cfg.Engine, OnDemand: s.cfg.Maker != nil}
	if e := s.current(); e != nil {
		n.Term, n.Index = e.meta.Term, e.meta.Index
	}
	return n, nil
}

func (s *Source) current() *entry {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.newest
}

// Close ends every Watch; registered checkpoints stay for the next start.
func (s *Source) Close() error {
	s.reqs.close()
	return nil
}

// RegisterOption configures one Register.
type RegisterOption func(*registerOptions)

type registerOptions struct{ requestID string }

// ForRequest says the checkpoint answers the checkpoint request with this ID
// (Request.ID), for the logs: any registration reaching a request's index
// answers it.
func ForRequest(id string) RegisterOption {
	return func(o *registerOptions) { o.requestID = id }
}
