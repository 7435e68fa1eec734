package repo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/snapsync/snapsync/verify"
)

// PruneResult is what Prune kept and removed.
type PruneResult struct {
	Kept    []SnapshotInfo // oldest first
	Dropped []SnapshotInfo // oldest first
	// Manifests and Chunks count what was deleted: the dropped snapshots'
	// manifests and those an interrupted backup left, and every chunk no kept
	// snapshot names (format 2: every chunk no longer indexed).
	Manifests, Chunks int
	// Packs counts the packs deleted (format 2): unused, repacked, or named
	// by no index. Repacked counts those rewritten, whose used chunks were
	// copied (BytesRepacked bytes) into new packs first.
	Packs, Repacked int
	BytesRepacked   int64
	// Problems lists the entries under manifests/ and chunks/ whose names
	// do not parse: kept, and reported.
	Problems []Problem
}

// Prune keeps the keepLast newest snapshots and every snapshot made within
// keepWithin of now, drops the others, and deletes every manifest and chunk
// no kept snapshot references. It holds the exclusive lock throughout (see
// Lock), so it fails with ErrLocked beside a running backup instead of
// deleting the chunks that backup has uploaded but not yet committed. If a
// kept snapshot's manifest does not verify, or snapshots/ holds anything
// that is no snapshot (List's problems: it may be one gone astray), it
// deletes nothing, since it cannot tell which chunks are needed. Keeping
// nothing is refused.
func (r *Repo) Prune(ctx context.Context, keepLast int, keepWithin time.Duration) (res *PruneResult, err error) {
	if keepLast <= 0 && keepWithin <= 0 {
		return nil, errors.New("repo: prune: keep at least the last snapshot or a time window")
	}
	lock, err := r.lock(ctx, lockPrune)
	if err != nil {
		return nil, err
	}
	defer func() { err = errors.Join(err, lock.Unlock(context.WithoutCancel(ctx))) }()
	l, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	if len(l.Problems) > 0 {
		return nil, fmt.Errorf("repo: prune: %s holds what is no snapshot (%s): remove or repair it; prune deletes nothing until then",
			snapshotPrefix, Summary(l.Problems))
	}
	var objs map[string][]indexEntry
	if r.format >= Format2 {
		// Nothing is deleted beside an index object that is none: the
		// packs only it names would go.
		var ps []Problem
		switch objs, ps, err = r.indexObjects(ctx); {
		case err != nil:
			return nil, err
		case len(ps) > 0:
			return nil, fmt.Errorf("repo: prune: %s holds what is no index (%s): remove or repair it; prune deletes nothing until then",
				indexPrefix, Summary(ps))
		}
	}
	all := l.Snapshots
	res = &PruneResult{}
	cutoff := r.opts.Now().Add(-keepWithin)
	for i, s := range all {
		if len(all)-i <= keepLast || (keepWithin > 0 && s.Created.After(cutoff)) {
			res.Kept = append(res.Kept, s)
		} else {
			res.Dropped = append(res.Dropped, s)
		}
	}
	keep, chunks, err := r.referenced(ctx, res.Kept)
	if err != nil {
		return nil, err
	}
	for _, s := range res.Dropped {
		if err := r.delete(ctx, r.snapshotKey(s.ID)); err != nil {
			return res, err
		}
	}
	if res.Manifests, err = r.sweep(ctx, lock, res, manifestPrefix, func(key string) (bool, error) {
		id, err := parseKeyID(key, manifestPrefix, "")
		return !keep[id], err
	}); err != nil {
		return res, err
	}
	if r.format >= Format2 {
		defer r.idx.invalidate()
		return res, r.prunePacks(ctx, lock, res, objs, chunks)
	}
	res.Chunks, err = r.sweep(ctx, lock, res, chunkPrefix, func(key string) (bool, error) {
		d, err := parseChunkKey(key)
		_, used := chunks[d]
		return !used, err
	})
	return res, err
}

// referenced returns the names of kept's objects (crypt.snapshotName) and
// the chunks their manifests name: each chunk's digest by its stored ID
// (crypt.chunkID; the same in a plaintext repository).
func (r *Repo) referenced(ctx context.Context, kept []SnapshotInfo) (map[verify.Digest]bool, map[verify.Digest]verify.Digest, error) {
	names := make(map[verify.Digest]bool, len(kept))
	chunks := make(map[verify.Digest]verify.Digest)
	for _, s := range kept {
		m, err := r.Manifest(ctx, s.ID)
		if err != nil {
			return nil, nil, fmt.Errorf("repo: prune: kept snapshot %s: %w", s.ID, err)
		}
		names[r.crypt.snapshotName(s.ID)] = true
		for i := range m.Files {
			for _, c := range m.Files[i].Chunks {
				chunks[r.crypt.chunkID(c.Digest)] = c.Digest
			}
		}
	}
	return names, chunks, nil
}

// sweep deletes every key under prefix that drop selects, checking before
// each deletion that the lock l still holds, and returns how many it deleted.
// A key drop cannot parse is kept and added to res.Problems.
func (r *Repo) sweep(ctx context.Context, l *Lock, res *PruneResult, prefix string, drop func(string) (bool, error)) (int, error) {
	var doomed []string
	for key, err := range r.b.List(ctx, prefix) {
		if err != nil {
			return 0, fmt.Errorf("repo: prune: list %s: %w", prefix, err)
		}
		switch ok, err := drop(key); {
		case err != nil:
			res.Problems = append(res.Problems, Problem{Key: key, Reason: "not the name of a repository object: kept"})
		case ok:
			doomed = append(doomed, key)
		}
	}
	for i, key := range doomed {
		if err := l.Check(); err != nil {
			return i, err
		}
		if err := r.delete(ctx, key); err != nil {
			return i, err
		}
	}
	return len(doomed), nil
}

func (r *Repo) delete(ctx context.Context, key string) error {
	if err := r.b.Delete(ctx, key); err != nil {
		return fmt.Errorf("repo: prune: delete %s: %w", key, err)
	}
	return nil
}
