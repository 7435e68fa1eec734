package repo

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
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
	keys     map[string]bool // the index objects loaded
	problems []Problem       // index objects that are none
}

// invalidate makes the next use load the index objects again.
func (s *indexSet) invalidate() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.loaded, s.locs, s.keys, s.problems = false, nil, nil, nil
}

// add records the entries of the index object key, just written.
func (s *indexSet) add(key string, entries []indexEntry) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.loaded {
		return // the next load reads the object
	}
	s.keys[key] = true
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

// loadLocked reads every index object, unless loaded; r.idx.mu is held.
// Of chunks indexed twice (two backups stored one at once), the copy of the
// first index object in key order counts.
func (r *Repo) loadLocked(ctx context.Context) error {
	s := r.idx
	if s.loaded {
		return nil
	}
	objs, problems, err := r.indexObjects(ctx)
	if err != nil {
		return err
	}
	locs := make(map[verify.Digest]location)
	keys := make(map[string]bool, len(objs))
	for _, key := range slices.Sorted(maps.Keys(objs)) {
		keys[key] = true
		for _, e := range objs[key] {
			if _, ok := locs[e.digest]; !ok {
				locs[e.digest] = e.location
			}
		}
	}
	s.loaded, s.locs, s.keys, s.problems = true, locs, keys, problems
	return nil
}

// indexObjects reads every index object. One that does not verify is a
// problem, not an error: the chunks only it names are missing (a backup
// stores them again). Failing to read one at all is an error.
func (r *Repo) indexObjects(ctx context.Context) (map[string][]indexEntry, []Problem, error) {
	objs := make(map[string][]indexEntry)
	var problems []Problem
	for key, err := range r.b.List(ctx, indexPrefix) {
		if err != nil {
			return nil, nil, fmt.Errorf("repo: list %s: %w", indexPrefix, err)
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
			return nil, nil, fmt.Errorf("repo: %w", err)
		}
		objs[key] = entries
	}
	return objs, problems, nil
}

// readIndex reads and decodes the index object at key.
func (r *Repo) readIndex(ctx context.Context, key string) ([]indexEntry, error) {
	sum, err := parseIndexKey(key)
	if err != nil {
		return nil, fmt.Errorf("%w: not the name of an index object (%sSHA256)", ErrBadKey, indexPrefix)
	}
	b, err := r.getSmall(ctx, key, int64(maxIndexSize))
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", key, err)
	}
	return decodeIndex(sum, b)
}
