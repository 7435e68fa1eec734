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

// Report is what Verify found.
type Report struct {
	Snapshots int   // snapshots checked
	Chunks    int   // distinct chunks read and hashed
	Bytes     int64 // raw bytes of those chunks
	// Damaged lists each snapshot that cannot be restored whole, oldest first.
	Damaged []Damage
	// Problems lists what is under snapshots/ but no snapshot (see List).
	Problems []Problem
}

// OK reports whether nothing was damaged and nothing was out of place.
func (r *Report) OK() bool { return len(r.Damaged) == 0 && len(r.Problems) == 0 }

// Damage names a damaged snapshot and why: its manifest, or its chunks.
type Damage struct {
	ID       verify.Digest
	Manifest error                   // the manifest does not verify; Chunks is then empty
	Chunks   map[verify.Digest]error // each chunk that is missing or does not verify
}

// Verify re-reads and re-hashes every chunk of every committed snapshot, or
// of the one snapshot id when id is non-zero; a chunk shared by several
// snapshots is read once. Verifying them all, it reports what List finds
// out of place too, and (format 2) every index object that does not
// verify. It reads the index objects afresh. Damage is reported, not
// returned: the error is for a repository that could not be read at all (or
// ctx ending).
func (r *Repo) Verify(ctx context.Context, id verify.Digest) (*Report, error) {
	r.idx.invalidate()
	ids := []verify.Digest{id}
	var problems []Problem
	if id.IsZero() {
		l, err := r.List(ctx)
		if err != nil {
			return nil, err
		}
		ids, problems = ids[:0], l.Problems
		for _, s := range l.Snapshots {
			ids = append(ids, s.ID)
		}
		if r.format >= Format2 {
			ps, err := r.indexProblems(ctx)
			if err != nil {
				return nil, err
			}
			problems = append(problems, ps...)
		}
	}
	rep := &Report{Snapshots: len(ids), Problems: problems}
	damage := make(map[verify.Digest]*Damage)
	users := make(map[verify.Digest][]verify.Digest) // chunk → snapshots naming it
	lengths := make(map[verify.Digest]uint32)
	for _, sid := range ids {
		m, err := r.Manifest(ctx, sid)
		if err != nil {
			if ctx.Err() != nil {
				return nil, context.Cause(ctx)
			}
			damage[sid] = &Damage{ID: sid, Manifest: err}
			continue
		}
		for d, n := range distinctChunks(m) {
			users[d] = append(users[d], sid)
			lengths[d] = n
		}
	}
	bad, err := r.readAll(ctx, lengths, &rep.Bytes)
	if err != nil {
		return nil, err
	}
	rep.Chunks = len(lengths)
	for d, cerr := range bad {
		for _, sid := range users[d] {
			if damage[sid] == nil {
				damage[sid] = &Damage{ID: sid, Chunks: make(map[verify.Digest]error)}
			}
			damage[sid].Chunks[d] = cerr
		}
	}
	for _, sid := range ids {
		if dm := damage[sid]; dm != nil {
			rep.Damaged = append(rep.Damaged, *dm)
		}
	}
	return rep, nil
}

// readAll reads every chunk of lengths (format 1 through GetChunk, format 2
// pack by pack: readPacked) and returns the
// error of each that is missing or does not verify; it adds the bytes read to
// *total. Its own error is for ctx ending or a backend that fails otherwise.
func (r *Repo) readAll(ctx context.Context, lengths map[verify.Digest]uint32, total *int64) (map[verify.Digest]error, error) {
	if r.format >= Format2 {
		return r.readPacked(ctx, lengths, total)
	}
	var mu sync.Mutex
	bad := make(map[verify.Digest]error)
	err := r.forEach(ctx, slices.Collect(maps.Keys(lengths)), func(ctx context.Context, d verify.Digest) error {
		data, err := r.GetChunk(ctx, d, lengths[d])
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err == nil:
			*total += int64(len(data))
		case errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotFound):
			bad[d] = err
		default:
			return fmt.Errorf("repo: verify: %w", err)
		}
		return nil
	})
	return bad, err
}
