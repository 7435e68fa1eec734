package client

import (
	"sync/atomic"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// target is a place a chunk's bytes go: chunk chunk of group leader file.
type target struct{ file, chunk int }

// job is one distinct content to put in place (invariant 6: each is fetched
// or copied once, whatever the number of places it goes). Exactly one worker
// owns a job at a time.
type job struct {
	digest verify.Digest
	length uint32
	// targets lists every place the content goes; the first is the
	// representative the server is asked for.
	targets []target
	// src is a local copy (reuse jobs only).
	src chunkLoc
	// failures counts verification failures, done marks the job complete.
	failures int
	done     bool
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
type plan struct {
	m    *verify.Manifest
	offs [][]int64 // chunk offsets of files written chunk by chunk
	// remaining counts, per leader, the chunks not yet in place.
	remaining []atomic.Int64
	create    []int // leaders created (or kept) and sized before writing
	place     []placement
	ready     []int // leaders complete before any write: fsync and mode only
	reuse     []*job
	fetch     []*job
	// stagedBytes were in place before this attempt; placedBytes are placed
	// whole.
	stagedBytes int64
	placedBytes int64
}

// makePlan decides, by content only, where every leader's bytes come from.
// done and complete describe stage/ (scanStage); idx the local trees;
// stagePath names a manifest file in stage/.
func makePlan(m *verify.Manifest, done [][]bool, complete []bool, idx *localIndex,
	immutable func(string) bool, stagePath func(int) string) *plan {
	p := &plan{m: m, offs: make([][]int64, len(m.Files)), remaining: make([]atomic.Int64, len(m.Files))}
	staged := stagedChunks(m, done, stagePath)
	used := make(map[durable.FileID]bool) // local inodes already placed
	jobs := make(map[verify.Digest]*job)
	for i := range m.Files {
		f := &m.Files[i]
		switch {
		case f.LinkTo >= 0:
			continue
		case complete[i]:
			p.ready = append(p.ready, i)
			p.stagedBytes += f.Size
			continue
		}
		if src, link := wholeMatch(f, idx, used, immutable); src != nil {
			used[durable.InfoID(src.info)] = true
			p.place = append(p.place, placement{file: i, src: src, link: link})
			p.ready = append(p.ready, i)
			p.placedBytes += f.Size
			continue
		}
		p.create = append(p.create, i)
		p.addChunks(i, done[i], jobs, staged, idx)
		if p.remaining[i].Load() == 0 {
			p.ready = append(p.ready, i)
		}
	}
	return p
}

// addChunks adds the chunks of leader i not yet staged to their jobs.
func (p *plan) addChunks(i int, done []bool, jobs map[verify.Digest]*job, staged map[verify.Digest]chunkLoc, idx *localIndex) {
	f := &p.m.Files[i]
	p.offs[i] = f.Offsets()
	for j, c := range f.Chunks {
		if done != nil && done[j] {
			p.stagedBytes += int64(c.Length)
			continue
		}
		jb := jobs[c.Digest]
		if jb == nil {
			jb = &job{digest: c.Digest, length: c.Length}
			jobs[c.Digest] = jb
			if loc, ok := staged[c.Digest]; ok {
				jb.src = loc
				p.reuse = append(p.reuse, jb)
			} else if loc, ok := idx.byDigest[c.Digest]; ok {
				jb.src = loc
				p.reuse = append(p.reuse, jb)
			} else {
				p.fetch = append(p.fetch, jb)
			}
		}
		jb.targets = append(jb.targets, target{file: i, chunk: j})
		p.remaining[i].Add(1)
	}
}

// stagedChunks indexes the chunks already in place in stage/, so content
// staged once is copied from there to the other places that need it.
func stagedChunks(m *verify.Manifest, done [][]bool, stagePath func(int) string) map[verify.Digest]chunkLoc {
	locs := make(map[verify.Digest]chunkLoc)
	for i, d := range done {
		if d == nil {
			continue
		}
		lf := &localFile{rel: m.Files[i].Path, path: stagePath(i)}
		var off int64
		for j, c := range m.Files[i].Chunks {
			if _, seen := locs[c.Digest]; d[j] && !seen {
				locs[c.Digest] = chunkLoc{file: lf, off: off}
			}
			off += int64(c.Length)
		}
	}
	return locs
}

// wholeMatch finds a local file with exactly f's content that can be placed
// whole: an immutable file of the current database with f's mode (hard-linked,
// so its mode must already be right), or a file of an earlier staging that no
// other name shares (renamed). Each local inode is placed at most once,
// whatever the names it has, so the staged tree has the leader's hard-link
// groups and no others.
func wholeMatch(f *verify.File, idx *localIndex, used map[durable.FileID]bool, immutable func(string) bool) (*localFile, bool) {
	if f.Size == 0 || idx == nil {
		return nil, false
	}
	for _, c := range idx.byContent[contentOf(f.Chunks, f.Size)] {
		switch {
		case used[durable.InfoID(c.info)]:
		case c.fromDest && immutable(c.rel) && c.info.Mode().Perm() == f.Mode:
			return c, true
		case !c.fromDest && nlink(c.info) == 1:
			return c, false
		}
	}
	return nil, false
}

// neededDigests returns the digests of every chunk not yet staged.
func neededDigests(m *verify.Manifest, done [][]bool, complete []bool) map[verify.Digest]bool {
	need := make(map[verify.Digest]bool)
	for i := range m.Files {
		if m.Files[i].LinkTo >= 0 || complete[i] {
			continue
		}
		for j, c := range m.Files[i].Chunks {
			if done[i] == nil || !done[i][j] {
				need[c.Digest] = true
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
