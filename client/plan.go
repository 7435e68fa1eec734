package client

import (
	"io/fs"
	"sync/atomic"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// target is a place a chunk's bytes go: chunk chunk of group leader file.
type target struct{ file, chunk int }

// job is one distinct content to put in place (docs/DESIGN.md invariant 6: each is fetched
// or copied once, whatever the number of places it goes). Exactly one worker
// owns a job at a time.
type job struct {
	// digest points into the manifest, which outlives the plan.
	digest *verify.Digest
	length uint32
	// failures counts verification failures, done marks the job complete.
	failures int32
	done     bool
	// targets lists every place the content goes; the first is the
	// representative the server is asked for.
	targets []target
	// src is a local copy (reuse jobs only).
	src *chunkLoc
}

// bytes is what the job puts in place.
func (j *job) bytes() int64 { return int64(j.length) * int64(len(j.targets)) }

// placement puts a whole local file into the staged tree without copying: a
// hard link to an immutable file of the current database, or a rename of a
// file of an earlier staging.
type placement struct {
	file int
	src  *localFile
	link bool
}

// plan says how each group leader of the manifest is made: already staged,
// placed whole, or written chunk by chunk from reuse and fetch jobs.
//
// Memory (docs/DESIGN.md invariant 5 within verify's limits): on top of the manifest (36
// bytes a chunk, about 100 bytes and the path a file), a fresh plan keeps per
// distinct chunk a 56-byte job carved from a slab (its digest points into the
// manifest), its first 16-byte target, a 64-bit key in the job index with
// the map's slack, and a pointer in fetch or reuse: 81 bytes measured. Per
// file it keeps 8 bytes of remaining and a list entry or two (a one-chunk
// file, its chunk included, 73 bytes measured). No chunk offsets are kept:
// chunk j of a file starts at j times the chunk size (verify's chunk shape).
// While local trees are indexed, the needed digests take 36 bytes a chunk.
// TestPlanMemory measures it; BenchmarkPlan reports it.
type plan struct {
	m *verify.Manifest
	// remaining counts, per leader, the chunks not yet in place.
	remaining []atomic.Int64
	create    []int // leaders created (or kept) and sized before writing
	place     []placement
	ready     []int // leaders complete before any write: fsync and mode only
	// synced marks the leaders placed from a file the follower digest cache
	// knew: already durable, they need no fsync unless their mode changes.
	synced []bool
	reuse  []*job
	fetch  []*job
	// jobSlab and targetSlab are where the next jobs are carved from.
	jobSlab    []job
	targetSlab []target
	// stagedBytes were in place before this attempt; placedBytes are placed
	// whole.
	stagedBytes int64
	placedBytes int64
	// hold, when local candidates are still being hashed, is what waits
	// for them (deferred.go); nil otherwise.
	hold *holding
	// win, for a manifest larger than one window, is what plans it a
	// window at a time (window.go); nil when it is planned whole.
	win *windowing
}

// makePlan decides, by content only, where every leader's bytes come from.
// done and complete describe stage/ (scanStage); idx the local trees;
// stagePath names a manifest file in stage/.
// mask is Config.FileModeMask: a file of Dest is linked only if it already
// has the mode the install gives.
func makePlan(m *verify.Manifest, done [][]bool, complete []bool, idx *localIndex,
	immutable func(string) bool, mask fs.FileMode, stagePath func(int) string) *plan {
	return makePlanHolding(m, done, complete, idx, immutable, mask, stagePath, nil)
}

// makePlanHolding is makePlan, except that the leaders whose first chunk's
// digest heads holds (a local candidate not hashed yet may supply them) are
// left for resolve, with every job one of their chunks is in (p.hold).
func makePlanHolding(m *verify.Manifest, done [][]bool, complete []bool, idx *localIndex,
	immutable func(string) bool, mask fs.FileMode, stagePath func(int) string, heads map[verify.Digest]bool) *plan {
	p := &plan{m: m, remaining: make([]atomic.Int64, len(m.Files))}
	staged := stagedChunks(m, nil, done, stagePath)
	used := make(map[durable.FileID]bool) // local inodes already placed
	jobs := newJobIndex()
	if h := holdFor(m, complete, heads); len(h.files) > 0 {
		p.hold = h
		p.hold.jobs, p.hold.used, p.hold.staged, p.hold.done = jobs, used, staged, done
		p.hold.immutable, p.hold.mask = immutable, mask
		// resolve may mark held leaders while the flushers read synced.
		p.synced = make([]bool, len(m.Files))
	}
	for i := range m.Files {
		f := &m.Files[i]
		switch {
		case f.LinkTo >= 0:
			continue
		case complete[i]:
			p.ready = append(p.ready, i)
			p.stagedBytes += f.Size
			continue
		case p.hold.holds(i):
			continue
		}
		p.planFile(i, done[i], jobs, staged, idx, used, immutable, mask)
	}
	return p
}

// planFile plans leader i: placed whole from a local file, or created and
// written from jobs.
func (p *plan) planFile(i int, done []bool, jobs *jobIndex, staged map[verify.Digest]chunkLoc, idx *localIndex,
	used map[durable.FileID]bool, immutable func(string) bool, mask fs.FileMode) {
	if p.placeWhole(i, p.m.Files[i].Chunks, idx, used, immutable, mask) {
		return
	}
	p.create = append(p.create, i)
	p.stagedBytes += p.addChunks(i, done, jobs, staged, idx)
	if p.remaining[i].Load() == 0 {
		p.ready = append(p.ready, i)
	}
}

// placeWhole places leader i, whose chunk list is chunks, whole from a
// local file if one matches (wholeMatch), and reports whether it did.
func (p *plan) placeWhole(i int, chunks []verify.Chunk, idx *localIndex,
	used map[durable.FileID]bool, immutable func(string) bool, mask fs.FileMode) bool {
	f := &p.m.Files[i]
	src, link := wholeMatch(f, chunks, idx, used, immutable, mask)
	if src == nil {
		return false
	}
	used[durable.InfoID(src.info)] = true
	p.place = append(p.place, placement{file: i, src: src, link: link})
	p.ready = append(p.ready, i)
	if src.synced {
		if p.synced == nil {
			p.synced = make([]bool, len(p.m.Files))
		}
		p.synced[i] = true
	}
	p.placedBytes += f.Size
	return true
}

// isSynced reports whether leader i was placed from an already durable file.
func (p *plan) isSynced(i int) bool { return p.synced != nil && p.synced[i] }

// addChunks adds the chunks of leader i not yet staged to their jobs, and
// returns the bytes of those staged.
func (p *plan) addChunks(i int, done []bool, jobs *jobIndex, staged map[verify.Digest]chunkLoc, idx *localIndex) (stagedBytes int64) {
	f := &p.m.Files[i]
	for j := range f.Chunks {
		c := &f.Chunks[j]
		if done != nil && done[j] {
			stagedBytes += int64(c.Length)
			continue
		}
		jb := jobs.get(&c.Digest)
		if jb == nil {
			jb = p.newJob(&c.Digest, c.Length)
			jobs.put(jb)
			if p.hold.holdsChunk(&c.Digest) {
				p.hold.later = append(p.hold.later, jb)
			} else {
				p.route(jb, staged, idx)
			}
		}
		jb.targets = append(jb.targets, target{file: i, chunk: j})
		p.remaining[i].Add(1)
	}
	return stagedBytes
}

// route makes jb a reuse job if its content is staged or local, else a
// fetch job.
func (p *plan) route(jb *job, staged map[verify.Digest]chunkLoc, idx *localIndex) {
	if loc, ok := staged[*jb.digest]; ok {
		jb.src = &loc
		p.reuse = append(p.reuse, jb)
	} else if loc, ok := idx.byDigest[*jb.digest]; ok {
		jb.src = &loc
		p.reuse = append(p.reuse, jb)
	} else if loc, ok := p.win.staged(jb.digest); ok {
		jb.src = &loc
		p.reuse = append(p.reuse, jb)
	} else {
		p.fetch = append(p.fetch, jb)
	}
}

// slabSize is the number of jobs allocated at once.
const slabSize = 1024

// newJob returns a job carved from a slab, with room for one target in a
// slab of targets: a job costs its size, not its allocation class, and no
// allocation of its own.
func (p *plan) newJob(d *verify.Digest, length uint32) *job {
	if len(p.jobSlab) == 0 {
		p.jobSlab, p.targetSlab = make([]job, slabSize), make([]target, slabSize)
	}
	j := &p.jobSlab[0]
	j.digest, j.length, j.targets = d, length, p.targetSlab[0:0:1]
	p.jobSlab, p.targetSlab = p.jobSlab[1:], p.targetSlab[1:]
	return j
}

// stagedChunks indexes the chunks of leaders (nil: all) already in place in
// stage/, so content staged once is copied from there to the other places
// that need it.
func stagedChunks(m *verify.Manifest, leaders []int, done [][]bool, stagePath func(int) string) map[verify.Digest]chunkLoc {
	locs := make(map[verify.Digest]chunkLoc)
	add := func(i int) {
		if done[i] == nil {
			return
		}
		lf := &localFile{rel: m.Files[i].Path, path: stagePath(i)}
		var off int64
		for j, c := range m.Files[i].Chunks {
			if _, seen := locs[c.Digest]; done[i][j] && !seen {
				locs[c.Digest] = chunkLoc{file: lf, off: off}
			}
			off += int64(c.Length)
		}
	}
	if leaders == nil {
		for i := range done {
			add(i)
		}
	}
	for _, i := range leaders {
		add(i)
	}
	return locs
}

// wholeMatch finds a local file with exactly f's content that can be placed
// whole: an immutable file of the current database with the mode f installs
// with (hard-linked, so its mode must already be right), or a file of an earlier staging that no
// other name shares (renamed). Each local inode is placed at most once,
// whatever the names it has, so the staged tree has the leader's hard-link
// groups and no others.
func wholeMatch(f *verify.File, chunks []verify.Chunk, idx *localIndex, used map[durable.FileID]bool, immutable func(string) bool, mask fs.FileMode) (*localFile, bool) {
	if f.Size == 0 || idx == nil || len(idx.byContent) == 0 {
		return nil, false
	}
	for _, c := range idx.byContent[contentOf(chunks, f.Size)] {
		switch {
		case used[durable.InfoID(c.info)]:
		case c.fromDest && immutable(c.rel) && c.info.Mode().Perm() == fileMode(f.Mode, mask):
			return c, true
		case !c.fromDest && nlink(c.info) == 1:
			return c, false
		}
	}
	return nil, false
}

// neededDigests returns the digests of every chunk not yet staged, and of
// the first chunk of every file not complete (8 bytes of key a chunk, and
// the map's slack): what the plan can use of a local file, and so what the
// prefilter lets through (a file whose first chunk is already staged may
// still be placed whole).
func neededDigests(m *verify.Manifest, done [][]bool, complete []bool) *digestSet {
	need := newDigestSet()
	for i := range m.Files {
		if m.Files[i].LinkTo >= 0 || complete[i] {
			continue
		}
		for j := range m.Files[i].Chunks {
			if j == 0 || done[i] == nil || !done[i][j] {
				need.add(&m.Files[i].Chunks[j].Digest)
			}
		}
	}
	return need
}

// fetchBytes is the content the fetch jobs put in place.
func (p *plan) fetchBytes() int64 { return sumBytes(p.fetch) }

// reuseBytes is the content the reuse jobs put in place.
func (p *plan) reuseBytes() int64 { return sumBytes(p.reuse) }

func sumBytes(jobs []*job) int64 {
	var n int64
	for _, j := range jobs {
		n += j.bytes()
	}
	return n
}
