package repo

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"math"
	"slices"

	"github.com/snapsync/snapsync/verify"
)

// maxUnused is the share of a pack's bytes that may be unused before prune
// rewrites it: a pack of which more than a quarter is no kept snapshot's
// chunks is repacked, one with less is kept whole (its unused chunks stay
// indexed, ready for a later backup to reuse). So a prune rewrites at most
// three bytes for each byte it frees, and a pack that loses a few chunks
// per prune is not copied again and again.
const maxUnused = 4 // a pack is repacked when unused > size/maxUnused

// packStat is what prune knows of a pack from the index.
type packStat struct {
	size int64        // bytes of its indexed blobs, plus the header
	used int64        // bytes of those a kept snapshot names
	live []indexEntry // the used blobs, to copy when repacked
}

// blobRef names one blob: two index objects may list it (two backups of
// the same chunks packed alike, or a prune killed after its new index).
type blobRef struct {
	pack   verify.Digest
	offset uint32
}

func refOf(e indexEntry) blobRef { return blobRef{e.pack, e.offset} }

// packPlan is what prune does to the packs.
type packPlan struct {
	drop, repack []verify.Digest
	keep         map[verify.Digest]bool
}

// planPacks decides each indexed pack's fate from the chunks kept
// snapshots use (by stored ID: see referenced). Of a chunk indexed twice,
// one copy (the first in index key order) counts as used.
func planPacks(objs map[string][]indexEntry, used map[verify.Digest]verify.Digest) (packPlan, map[verify.Digest]*packStat) {
	stats := make(map[verify.Digest]*packStat)
	counted := make(map[verify.Digest]bool)
	seen := make(map[blobRef]bool)
	for _, key := range slices.Sorted(maps.Keys(objs)) {
		for _, e := range objs[key] {
			ref := refOf(e)
			if seen[ref] {
				continue // listed by two index objects: one blob
			}
			seen[ref] = true
			st := stats[e.pack]
			if st == nil {
				st = &packStat{size: int64(packHeaderSize)}
				stats[e.pack] = st
			}
			n := blobHeaderSize + int64(e.stored)
			st.size += n
			if _, ok := used[e.digest]; ok && !counted[e.digest] {
				counted[e.digest] = true
				st.used += n
				st.live = append(st.live, e)
			}
		}
	}
	plan := packPlan{keep: make(map[verify.Digest]bool)}
	for _, id := range slices.SortedFunc(maps.Keys(stats), func(a, b verify.Digest) int { return bytes.Compare(a[:], b[:]) }) {
		st := stats[id]
		switch {
		case st.used == 0:
			plan.drop = append(plan.drop, id)
		case st.size-st.used > st.size/maxUnused:
			plan.repack = append(plan.repack, id)
		default:
			plan.keep[id] = true
		}
	}
	return plan, stats
}

// prunePacks (format 2) deletes, of the packs objs (every index object,
// read under the lock) lists, those no kept snapshot uses, and rewrites
// those mostly unused, crash-safely: new packs, then one new
// index of every chunk still stored, then the old index objects, then the
// old packs. A prune killed at any point leaves every kept chunk indexed
// (maybe twice, which is harmless) and at worst packs no index names,
// which the next prune deletes. Packs no index names (a killed backup's)
// are deleted too: the exclusive lock is held, so no backup is running.
func (r *Repo) prunePacks(ctx context.Context, l *Lock, res *PruneResult, objs map[string][]indexEntry, used map[verify.Digest]verify.Digest) error {
	plan, stats := planPacks(objs, used)
	unindexed, err := r.unindexedPacks(ctx, res, stats)
	if err != nil {
		return err
	}
	written := make(map[verify.Digest]bool)
	if len(plan.drop) > 0 || len(plan.repack) > 0 {
		if written, err = r.rewriteIndex(ctx, res, objs, plan, stats, used); err != nil {
			return err
		}
		for _, key := range slices.Sorted(maps.Keys(objs)) {
			if err := l.Check(); err != nil {
				return err
			}
			if err := r.delete(ctx, key); err != nil {
				return err
			}
		}
	}
	doomed := append(append(plan.drop, plan.repack...), unindexed...)
	for _, id := range doomed {
		if written[id] {
			continue // a new pack of the same contents: the index names it
		}
		if err := l.Check(); err != nil {
			return err
		}
		if err := r.delete(ctx, PackKey(id)); err != nil {
			return err
		}
		res.Packs++
	}
	return nil
}

// unindexedPacks lists packs/ and returns the packs no index names; a name
// that does not parse is kept and reported.
func (r *Repo) unindexedPacks(ctx context.Context, res *PruneResult, stats map[verify.Digest]*packStat) ([]verify.Digest, error) {
	var out []verify.Digest
	for key, err := range r.b.List(ctx, packPrefix) {
		if err != nil {
			return nil, fmt.Errorf("repo: prune: list %s: %w", packPrefix, err)
		}
		id, err := parsePackKey(key)
		if err != nil {
			res.Problems = append(res.Problems, Problem{Key: key, Reason: "not the name of a repository object: kept"})
			continue
		}
		if stats[id] == nil {
			out = append(out, id)
		}
	}
	return out, nil
}

// rewriteIndex copies the used chunks of the packs to repack into new
// packs and writes one index (more past maxIndexEntries) of every chunk
// still stored: the kept packs' entries and the copies. It removes the
// index objects it wrote from objs, which are then the ones to delete, and
// returns the packs it wrote.
func (r *Repo) rewriteIndex(ctx context.Context, res *PruneResult, objs map[string][]indexEntry, plan packPlan,
	stats map[verify.Digest]*packStat, used map[verify.Digest]verify.Digest) (map[verify.Digest]bool, error) {
	entries, err := r.copyLive(ctx, res, plan, stats, used)
	if err != nil {
		return nil, err
	}
	written := make(map[verify.Digest]bool)
	for _, e := range entries {
		written[e.pack] = true
	}
	entries = append(entries, keptEntries(objs, plan)...)
	before, after := make(map[verify.Digest]bool), make(map[verify.Digest]bool, len(entries))
	for _, es := range objs {
		for _, e := range es {
			before[e.digest] = true
		}
	}
	for _, e := range entries {
		after[e.digest] = true
	}
	res.Chunks = len(before) - len(after)
	for len(entries) > 0 {
		n := min(len(entries), maxIndexEntries)
		key, err := r.putIndex(ctx, entries[:n])
		if err != nil {
			return nil, fmt.Errorf("repo: prune: %w", err)
		}
		delete(objs, key)
		entries = entries[n:]
	}
	return written, nil
}

// copyLive copies the used chunks of the packs to repack, each read and
// verified, into new packs, and returns their entries. A blob is copied as
// stored (sealed with its chunk's stored ID, which does not change), so a
// repack decrypts to verify but encrypts nothing.
func (r *Repo) copyLive(ctx context.Context, res *PruneResult, plan packPlan, stats map[verify.Digest]*packStat,
	used map[verify.Digest]verify.Digest) ([]indexEntry, error) {
	p := newPacker(r, r.opts.PackSize)
	p.indexEvery = math.MaxInt // one index, written by rewriteIndex
	for _, id := range plan.repack {
		for _, e := range stats[id].live {
			d := used[e.digest]
			blob, err := r.fetchBlob(ctx, d, e.location)
			var body []byte
			if err == nil {
				body = slices.Clone(blob[blobHeaderSize:]) // checkBlob decrypts blob in place
				_, err = r.checkBlob(d, e.location, blob)
			}
			if err != nil {
				return nil, fmt.Errorf("repo: prune: repack %s: %w", id.Short(), err)
			}
			if _, err := p.add(ctx, e.digest, body, e.raw, e.enc); err != nil {
				return nil, fmt.Errorf("repo: prune: %w", err)
			}
			res.BytesRepacked += int64(len(body))
		}
	}
	entries, err := p.seal(ctx)
	if err != nil {
		return nil, fmt.Errorf("repo: prune: %w", err)
	}
	res.Repacked = len(plan.repack)
	return entries, nil
}

// keptEntries returns the entries of the packs kept, each blob once (a
// prune killed after writing its index leaves two naming one blob).
func keptEntries(objs map[string][]indexEntry, plan packPlan) []indexEntry {
	var out []indexEntry
	seen := make(map[blobRef]bool)
	for _, key := range slices.Sorted(maps.Keys(objs)) {
		for _, e := range objs[key] {
			if ref := refOf(e); plan.keep[e.pack] && !seen[ref] {
				seen[ref] = true
				out = append(out, e)
			}
		}
	}
	return out
}
