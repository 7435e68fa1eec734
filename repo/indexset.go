package repo

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/snapsync/snapsync/verify"
)

// indexSet is the repository's index objects, loaded: where each indexed
// chunk is. It is loaded on first use and again after Lock or Prune (what
// another process wrote meanwhile), each object read whole within its
// bound and verified against its key before one entry is believed.
type indexSet struct {
	mu       sync.Mutex
	loaded   bool
	locs     map[verify.Digest]location
	problems []Problem // index objects that are none
}

// invalidate makes the next use load the index objects again.
func (s *indexSet) invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loaded, s.locs, s.problems = false, nil, nil
}

// add records the entries of an index object just written.
func (s *indexSet) add(entries []indexEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		return // the next load reads the object
	}
	for _, e := range entries {
		if _, ok := s.locs[e.digest]; !ok {
			s.locs[e.digest] = e.location
		}
	}
}

// lookup returns where chunk d is stored, loading the index if needed.
func (r *Repo) lookup(ctx context.Context, d verify.Digest) (location, bool, error) {
	s := r.idx
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := r.loadLocked(ctx); err != nil {
		return location{}, false, err
	}
	l, ok := s.locs[d]
	return l, ok, nil
}

// indexProblems returns the index objects that are none: names that do
// not parse, objects that do not verify or decode.
func (r *Repo) indexProblems(ctx context.Context) ([]Problem, error) {
	s := r.idx
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := r.loadLocked(ctx); err != nil {
		return nil, err
	}
	return s.problems, nil
}

// maxIndexed bounds the entries a repository's index objects may hold
// together: 16 Mi chunks (16 TiB of 1 MiB chunks, about 2 GB loaded), so a
// hostile repository of valid but countless index objects cannot exhaust
// memory.
const maxIndexed = 1 << 24

// loadLocked reads every index object, unless loaded; r.idx.mu is held. Of
// chunks indexed twice (two backups stored one at once), either copy may
// count: both verify.
func (r *Repo) loadLocked(ctx context.Context) error {
	s := r.idx
	if s.loaded {
		return nil
	}
	locs := make(map[verify.Digest]location)
	problems, err := r.eachIndex(ctx, func(_ string, entries []indexEntry) {
		for _, e := range entries {
			if _, ok := locs[e.digest]; !ok {
				locs[e.digest] = e.location
			}
		}
	})
	if err != nil {
		return err
	}
	s.loaded, s.locs, s.problems = true, locs, problems
	return nil
}

// indexObjects returns every index object's entries by key, and the
// index objects that are none (see eachIndex).
func (r *Repo) indexObjects(ctx context.Context) (map[string][]indexEntry, []Problem, error) {
	objs := make(map[string][]indexEntry)
	problems, err := r.eachIndex(ctx, func(key string, entries []indexEntry) { objs[key] = entries })
	return objs, problems, err
}

// eachIndex reads every index object, one at a time, and calls fn with the
// entries of each that verifies. One that does not is a problem, not an
// error: the chunks only it names are missing (a backup stores them again).
// Failing to read one at all is an error, as are index objects holding
// over maxIndexed entries together.
func (r *Repo) eachIndex(ctx context.Context, fn func(key string, entries []indexEntry)) ([]Problem, error) {
	var problems []Problem
	total := 0
	for key, err := range r.b.List(ctx, indexPrefix) {
		if err != nil {
			return nil, fmt.Errorf("repo: list %s: %w", indexPrefix, err)
		}
		entries, err := r.readIndex(ctx, key)
		var nr *NotRegularError
		switch {
		case errors.Is(err, ErrNotFound):
			continue // pruned meanwhile
		case errors.As(err, &nr):
			problems = append(problems, Problem{Key: key, Reason: nr.Kind + ", not a regular file"})
			continue
		case errors.Is(err, ErrCorrupt) || errors.Is(err, ErrBadKey):
			problems = append(problems, Problem{Key: key, Reason: err.Error()})
			continue
		case err != nil:
			return nil, fmt.Errorf("repo: %w", err)
		}
		if total += len(entries); total > maxIndexed {
			return nil, fmt.Errorf("repo: %s: %w: over %d chunks indexed", indexPrefix, ErrCorrupt, maxIndexed)
		}
		fn(key, entries)
	}
	return problems, nil
}

// readIndex reads and decodes the index object at key.
func (r *Repo) readIndex(ctx context.Context, key string) ([]indexEntry, error) {
	sum, err := parseIndexKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: not the name of an index object (%sSHA256)", ErrBadKey, indexPrefix)
	}
	b, err := r.getSmall(ctx, key, int64(maxIndexSize+r.crypt.overhead()))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", key, err)
	}
	if got := verify.Digest(sha256.Sum256(b)); got != sum {
		return nil, fmt.Errorf("index %s: %w: content hashes to %s", sum, ErrCorrupt, got)
	}
	if b, err = r.crypt.openObject(b, aadIndex); err != nil {
		return nil, fmt.Errorf("index %s: %w", sum, err)
	}
	return decodeIndex(sum, b, r.crypt.overhead())
}
