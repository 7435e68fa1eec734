package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/snapsync/snapsync/source"
)

// flight is one checkpoint being made. Callers that arrive meanwhile join it
// instead of making another (singleflight); when it lands, each waiter whose
// min_index it meets gets its own lease in the same catalog update.
type flight struct {
	done    chan struct{}
	waiters map[*waiter]struct{}
	err     error
}

type waiter struct {
	minIndex uint64
	ttl      time.Duration
	started  bool // this waiter started the flight
	ent      *entry
	lease    *lease
	index    uint64 // what the flight's checkpoint reflects
}

// create returns a leased checkpoint reflecting at least minIndex: a recent
// one if ReuseWithin allows, else the one being made, else a new one.
func (s *Server) create(ctx context.Context, minIndex uint64, ttl time.Duration) (*entry, *lease, bool, error) {
	for {
		if e, l, ok := s.reuse(minIndex, ttl); ok {
			return e, l, true, nil
		}
		f, w, err := s.join(minIndex, ttl)
		if err != nil {
			return nil, nil, false, err
		}
		select {
		case <-f.done:
		case <-ctx.Done():
			s.leave(f, w)
			return nil, nil, false, context.Cause(ctx)
		}
		switch {
		case w.lease != nil:
			return w.ent, w.lease, false, nil
		case f.err != nil:
			return nil, nil, false, f.err
		case w.started:
			return nil, nil, false, &source.MinIndexError{Newest: w.index, Known: true, Want: minIndex}
		}
		// Joined a checkpoint begun for a lower index: make a new one.
	}
}

func (s *Server) reuse(minIndex uint64, ttl time.Duration) (*entry, *lease, bool) {
	if s.cfg.ReuseWithin < 0 {
		return nil, nil, false
	}
	now := s.cfg.Clock.Now()
	return s.catalog.reuse(now, now.Add(-s.cfg.ReuseWithin), minIndex, ttl)
}

// join adds a waiter to the flight in progress or starts one.
func (s *Server) join(minIndex uint64, ttl time.Duration) (*flight, *waiter, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, ErrClosed
	}
	w := &waiter{minIndex: minIndex, ttl: ttl}
	if s.flight == nil {
		s.flight = &flight{done: make(chan struct{}), waiters: make(map[*waiter]struct{})}
		w.started = true
		s.wg.Add(1)
		go s.fly(s.flight, minIndex)
	}
	s.flight.waiters[w] = struct{}{}
	return s.flight, w, nil
}

// leave withdraws a waiter that gave up, giving back a lease granted meanwhile.
func (s *Server) leave(f *flight, w *waiter) {
	s.mu.Lock()
	delete(f.waiters, w)
	l := w.lease
	s.mu.Unlock()
	if l != nil {
		s.removeTrees(s.catalog.release(l.id, s.cfg.Clock.Now()))
	}
}

// fly makes a checkpoint and hands it to the flight's waiters. It runs on the
// server's context: a caller that gives up does not cancel it for the others.
func (s *Server) fly(f *flight, minIndex uint64) {
	defer s.wg.Done()
	e, err := s.makeCheckpoint(s.ctx, minIndex)
	s.mu.Lock()
	defer s.mu.Unlock()
	defer close(f.done)
	s.flight = nil
	if err != nil {
		f.err = err
		return
	}
	var ws []*waiter
	var ttls []time.Duration
	for w := range f.waiters {
		w.index = e.lay.meta.Index
		if w.minIndex <= e.lay.meta.Index {
			ws, ttls = append(ws, w), append(ttls, w.ttl)
		}
	}
	got, leases, trees, err := s.catalog.add(e, ttls, s.cfg.Clock.Now())
	if got != e {
		if err := e.discard(); err != nil {
			s.log.Warn().Err(err).Msg("remove manifest of a checkpoint not kept")
		}
	}
	if got != e && e.owned {
		trees = append(trees, e.dir) // not needed: known already, or nobody waits
	}
	s.removeTrees(trees)
	if err != nil {
		f.err = err
		return
	}
	for i, w := range ws {
		w.ent, w.lease = got, leases[i]
	}
}

// makeCheckpoint asks the source for a checkpoint and builds its manifest.
func (s *Server) makeCheckpoint(ctx context.Context, minIndex uint64) (*entry, error) {
	start := time.Now()
	dir := filepath.Join(s.cpDir, newCheckpointName(start))
	cp, err := s.cfg.Source.Checkpoint(ctx, dir, minIndex)
	if err != nil {
		s.removeTrees([]string{dir}) // a partial checkpoint, if any
		return nil, fmt.Errorf("%w: %w", ErrCheckpoint, err)
	}
	if cp.Owned && filepath.Clean(cp.Dir) != dir {
		return nil, fmt.Errorf("%w: owned checkpoint at %s, not at %s", ErrBadSource, cp.Dir, dir)
	}
	made := time.Since(start)
	hits0, misses0 := s.cache.counts()
	s.cache.nextGeneration()
	b, err := buildManifest(ctx, cp.Dir, s.stateDir, cp.Meta, s.cfg.ChunkSize, s.cfg.HashParallel, s.cache, s.cfg.OnHashed)
	if err != nil {
		if cp.Owned {
			s.removeTrees([]string{dir})
		}
		return nil, fmt.Errorf("build manifest: %w", err)
	}
	if b.chunks, err = indexChunks(b.tmp, b.lay, s.catalog.key); err != nil {
		s.log.Warn().Err(err).Str("snapshot", b.id.Short()).Msg("checkpoint not served by digest")
	}
	s.cache.trim()
	if err := s.cache.save(); err != nil {
		s.log.Warn().Err(err).Msg("digest cache not saved")
	}
	hits, misses := s.cache.counts()
	s.cfg.Metrics.Checkpoint(time.Since(start))
	s.log.Info().Str("snapshot", b.id.Short()).Str("dir", cp.Dir).Uint64("index", b.lay.meta.Index).
		Int("files", b.lay.Files()).Int64("bytes", b.lay.total).
		Int64("digest_hits", hits-hits0).Int64("digest_misses", misses-misses0).
		Dur("checkpoint", made).Dur("duration", time.Since(start)).Msg("checkpoint made")
	return &entry{built: b, dir: cp.Dir, owned: cp.Owned}, nil
}

// newCheckpointName is unique and sorts by time.
func newCheckpointName(t time.Time) string {
	var b [4]byte
	rand.Read(b[:]) // never fails
	return strconv.FormatInt(t.UnixNano(), 10) + "-" + hex.EncodeToString(b[:])
}
