package client

import (
	"context"
	"io/fs"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// Fetching while local candidates are hashed (docs/DESIGN.md, How an
// install runs: Plan).
//
// Once scanLocal has hashed each local file's first chunk, the plan knows
// which manifest leaders a candidate (a file whose first chunk passed the
// prefilter, its other chunks not hashed yet) may supply: those whose first
// chunk is a candidate's. It plans every other leader at once with what is
// known (cached and one-chunk files, staged chunks) and holds back those
// leaders and every job one of their chunks is in: jobs are per distinct
// content (invariant 6), so a held leader is never the target of a job
// already under way. The stager fetches and copies the rest while hashRest
// reads the candidates; then resolve plans the held leaders against the
// full index (placed whole, or created and written from reuse and fetch
// jobs, the held jobs joining them) and the stager carries that out.

// holding is what a plan leaves until the candidates are hashed.
type holding struct {
	heads  map[verify.Digest]bool // the first chunks of the leaders held
	files  []int                  // leaders held, in manifest order
	isHeld []bool                 // by leader
	held   *digestSet             // the digests of their chunks
	later  []*job                 // jobs made before resolve whose content a held leader has
	// resolving: resolve is planning the held leaders; jobs are routed.
	resolving bool
	// What makePlanHolding planned with, for resolve.
	jobs      *jobIndex
	used      map[durable.FileID]bool
	staged    map[verify.Digest]chunkLoc
	done      [][]bool
	immutable func(string) bool
	mask      fs.FileMode
}

// holdFor holds the leaders of m not complete whose first chunk's digest
// heads holds.
func holdFor(m *verify.Manifest, complete []bool, heads map[verify.Digest]bool) *holding {
	h := &holding{heads: make(map[verify.Digest]bool), isHeld: make([]bool, len(m.Files)), held: newDigestSet()}
	for i := range m.Files {
		f := &m.Files[i]
		if f.LinkTo >= 0 || complete[i] || len(f.Chunks) == 0 || !heads[f.Chunks[0].Digest] {
			continue
		}
		h.files = append(h.files, i)
		h.isHeld[i] = true
		h.heads[f.Chunks[0].Digest] = true
		for j := range f.Chunks {
			h.held.add(&f.Chunks[j].Digest)
		}
	}
	return h
}

// holds reports whether leader i waits for resolve.
func (h *holding) holds(i int) bool { return h != nil && h.isHeld[i] }

// holdsChunk reports whether a new job of digest d waits for resolve.
func (h *holding) holdsChunk(d *verify.Digest) bool {
	return h != nil && !h.resolving && h.held.has(d)
}

// resolve plans the held leaders against idx, the index with every
// candidate hashed, and routes the held jobs. It replaces the plan's lists
// (place, create, ready, reuse, fetch) with what is left to do; the byte
// counts go on adding up.
func (p *plan) resolve(idx *localIndex) {
	h := p.hold
	h.resolving = true
	p.place, p.create, p.ready, p.reuse, p.fetch = nil, nil, nil, nil, nil
	for _, i := range h.files {
		p.planFile(i, h.done[i], h.jobs, h.staged, idx, h.used, h.immutable, h.mask)
	}
	for _, jb := range h.later {
		p.route(jb, h.staged, idx)
	}
	p.hold = nil
}

// heads returns the first-chunk digests of the candidates, nil if none.
func (sc *localScan) heads() map[verify.Digest]bool {
	if len(sc.pending) == 0 {
		return nil
	}
	hs := make(map[verify.Digest]bool, len(sc.pending))
	for _, f := range sc.pending {
		hs[f.chunks[0].Digest] = true
	}
	return hs
}

// keep leaves pending only the candidates whose first chunk is a held
// leader's (p.hold.heads; nil: none). The others could only supply a held
// leader's chunks found at other offsets: they are dropped unread, as the
// prefilter drops a file.
func (sc *localScan) keep(heads map[verify.Digest]bool) {
	kept := sc.pending[:0]
	for _, f := range sc.pending {
		if heads[f.chunks[0].Digest] {
			kept = append(kept, f)
			continue
		}
		f.pending, f.chunks = false, nil
	}
	sc.pending = kept
}

// localPlan is planning's view of the local trees: the scan, and once the
// candidates are hashed, the index the plan was finished with.
type localPlan struct {
	sc   *localScan
	need *digestSet
	idx  *localIndex
	// reuse and fetch are the bytes of the plan's first part, when it held
	// leaders.
	reuse, fetch int64
}

// finish hashes the candidates and resolves the held part of p with them.
func (lp *localPlan) finish(ctx context.Context, p *plan) error {
	if err := lp.sc.hashRest(ctx); err != nil {
		return err
	}
	lp.idx = lp.sc.index(lp.need)
	p.resolve(lp.idx)
	return nil
}
