package client

import (
	"context"
	"slices"
	"sync/atomic"

	"github.com/snapsync/snapsync/internal/digestkey"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// Planning a window at a time (docs/DESIGN.md, How an install runs: Plan).
//
// A manifest of more chunks than Config's plan window (decodeManifest) is
// staged in windows: runs of the leaders to write, in manifest order, of at
// most a window's chunks each (a larger leader is a window of its own). The
// whole manifest is still planned file by file before the first byte is
// written (what is complete, what is placed whole, and the bytes to write,
// which the space check needs), but chunk lists and jobs exist for one
// window at a time: its chunk lists are read back from the staged manifest
// file (chunkTable), planned, fetched and copied, and dropped before the
// next window's are read. What stays is a few dozen bytes a file, and,
// while the local trees are indexed, 8 bytes a needed chunk.
//
// Content is still fetched once (invariant 6): a digest needed more than
// once across the manifest (found before planning, from the sorted keys of
// every needed chunk) is remembered with the staged place it was first put,
// and a later window copies it from there, verified as every copy is. The
// local candidates are hashed whole before the first window is planned: the
// holding of deferred.go is for a manifest planned at once.

// windowing is what a plan planned a window at a time keeps between windows.
type windowing struct {
	tbl     *chunkTable
	windows [][]int // leaders to write, a window each
	done    [][]bool
	idx     *localIndex
	// dups holds the digests needed more than once; seen is where the
	// content of those already in place is, in stage/.
	dups      *digestSet
	seen      map[verify.Digest]chunkLoc
	stagePath func(int) string
	// write is the bytes to write; reuse and fetch add up the windows'.
	write, reuse, fetch int64
}

// staged finds content of digest d an earlier window put in place.
func (w *windowing) staged(d *verify.Digest) (chunkLoc, bool) {
	if w == nil {
		return chunkLoc{}, false
	}
	loc, ok := w.seen[*d]
	return loc, ok
}

// remember records that chunk j of leader i, whose digest is d, is in place
// in stage/, if d is needed elsewhere too.
func (w *windowing) remember(m *verify.Manifest, d *verify.Digest, i, j int) {
	if !w.dups.has(d) {
		return
	}
	if _, ok := w.seen[*d]; ok {
		return
	}
	w.seen[*d] = chunkLoc{file: &localFile{rel: m.Files[i].Path, path: w.stagePath(i)}, off: verify.Offset(m.ChunkSize, j)}
}

// planWindowed is planStage for a manifest read back a window at a time: it
// plans every leader file by file, and leaves the windows to produceWindows.
func planWindowed(ctx context.Context, m *verify.Manifest, tbl *chunkTable, cfg *Config, l layout, ctr *counters) (*stager, *bufPool, *localPlan, error) {
	pool := newBufPool(int(m.ChunkSize))
	if err := makeDirs(l.fs, l.stage, m); err != nil {
		return nil, nil, nil, err
	}
	done, complete, err := scanStage(ctx, l.fs, l.stage, m, tbl, pool)
	if err != nil {
		return nil, nil, nil, err
	}
	need, dups, err := neededKeys(m, tbl, done, complete)
	if err != nil {
		return nil, nil, nil, err
	}
	idx, err := indexLocal(ctx, cfg, l, m, need)
	if err != nil {
		return nil, nil, nil, err
	}
	stagePath := func(i int) string { p, _ := join(l.stage, m.Files[i].Path); return p }
	p := &plan{m: m, remaining: make([]atomic.Int64, len(m.Files))}
	w := &windowing{tbl: tbl, done: done, idx: idx, dups: dups, seen: make(map[verify.Digest]chunkLoc), stagePath: stagePath}
	p.win = w
	if err := p.planFiles(complete, tbl, idx, cfg); err != nil {
		return nil, nil, nil, err
	}
	w.windows = splitWindows(m, p.create, cfg.window())
	s := &stager{root: l.stage, fs: l.fs, mask: l.mask, hook: cfg.Hook, ctr: ctr, log: cfg.Logger, flush: make(chan int, 64),
		buffered: cfg.BufferedWrites, onStaged: cfg.OnChunkStaged, plan: p}
	if err := checkSpace(cfg, l, p); err != nil {
		return nil, nil, nil, err
	}
	ctr.done.Store(p.stagedBytes)
	ctr.reused.Store(p.stagedBytes)
	cfg.Logger.Info().Int("files", len(m.Files)).Int64("total", m.TotalBytes()).
		Int64("staged", p.stagedBytes).Int64("placed", p.placedBytes).Int64("write", w.write).
		Int("windows", len(w.windows)).Int("window_chunks", cfg.window()).
		Int("local_files", idx.files).Int64("local_hashed", idx.hashed).
		Int64("local_cached", idx.cached).Int64("local_skipped", idx.skipped).Int64("local_bytes_read", idx.read).Msg("plan")
	return s, pool, &localPlan{need: need, idx: idx}, nil
}

// indexLocal indexes the local trees for a plan made at once: the
// candidates the prefilter lets through (need) are hashed whole first.
func indexLocal(ctx context.Context, cfg *Config, l layout, m *verify.Manifest, need *digestSet) (*localIndex, error) {
	var cache *localCache
	want := need
	if !cfg.VerifyLocal {
		cache = loadLocalCache(l, cfg.Logger)
	} else {
		want = nil
	}
	return indexTrees(ctx, localTrees(l), int(m.ChunkSize), newPrefilter(m, want, cfg.Immutable), need, cache, cfg.Logger)
}

// planFiles decides, file by file, what is complete, what is placed whole
// and what is created and written, and counts the bytes to write. A
// leader's chunk list is read back only when a local file could match it
// whole.
func (p *plan) planFiles(complete []bool, tbl *chunkTable, idx *localIndex, cfg *Config) error {
	m, w := p.m, p.win
	used := make(map[durable.FileID]bool)
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
		if f.Size > 0 && len(idx.byContent) > 0 {
			chunks, err := tbl.chunks(m, i)
			if err != nil {
				return err
			}
			if p.placeWhole(i, chunks, idx, used, cfg.Immutable, cfg.FileModeMask) {
				continue
			}
		}
		p.create = append(p.create, i)
		for j, n := 0, int(verify.ChunkCount(f.Size, m.ChunkSize)); j < n; j++ {
			b := int64(verify.ChunkLength(f.Size, m.ChunkSize, j))
			if w.done[i] != nil && w.done[i][j] {
				p.stagedBytes += b
			} else {
				w.write += b
			}
		}
	}
	return nil
}

// splitWindows cuts leaders (in manifest order) into runs of at most limit
// chunks; a leader of more is a run of its own.
func splitWindows(m *verify.Manifest, leaders []int, limit int) [][]int {
	var out [][]int
	start, n := 0, int64(0)
	for k, i := range leaders {
		c := verify.ChunkCount(m.Files[i].Size, m.ChunkSize)
		if k > start && n+c > int64(limit) {
			out = append(out, leaders[start:k])
			start, n = k, 0
		}
		n += c
	}
	if start < len(leaders) {
		out = append(out, leaders[start:])
	}
	return out
}

// neededKeys is neededDigests for a manifest read back file by file: the
// keys of every chunk not yet staged and of the first chunk of every file
// not complete, as a sorted set (8 bytes a chunk), and the set of those
// that occur more than once.
func neededKeys(m *verify.Manifest, tbl *chunkTable, done [][]bool, complete []bool) (need, dups *digestSet, err error) {
	var n int64
	for i := range m.Files {
		if m.Files[i].LinkTo < 0 && !complete[i] {
			n += verify.ChunkCount(m.Files[i].Size, m.ChunkSize)
		}
	}
	key := digestkey.New()
	keys := make([]uint64, 0, n)
	for i := range m.Files {
		if m.Files[i].LinkTo >= 0 || complete[i] || m.Files[i].Size == 0 {
			continue
		}
		chunks, err := tbl.chunks(m, i)
		if err != nil {
			return nil, nil, err
		}
		for j := range chunks {
			if j == 0 || done[i] == nil || !done[i][j] {
				keys = append(keys, key.Of(&chunks[j].Digest))
			}
		}
	}
	slices.Sort(keys)
	dups = &digestSet{key: key, set: make(map[uint64]struct{})}
	uniq := keys[:0]
	for k, v := range keys {
		if k > 0 && v == uniq[len(uniq)-1] {
			dups.set[v] = struct{}{}
			continue
		}
		uniq = append(uniq, v)
	}
	return sortedDigestSet(key, uniq), dups, nil
}

// produceWindows stages the plan's windows one after the other: reads
// their chunk lists back, plans their jobs, hands the leaders already
// whole to the flushers, copies and fetches, and remembers where content
// needed again is.
func (s *stager) produceWindows(ctx context.Context, f *fetcher, pool *bufPool) error {
	p, w := s.plan, s.plan.win
	for _, files := range w.windows {
		if err := w.tbl.load(p.m, files); err != nil {
			return err
		}
		p.reuse, p.fetch = nil, nil
		jobs := newJobIndex()
		staged := stagedChunks(p.m, files, w.done, w.stagePath)
		for _, i := range files {
			p.addChunks(i, w.done[i], jobs, staged, w.idx) // counted staged by planFiles
			for j := range p.m.Files[i].Chunks {
				if w.done[i] != nil && w.done[i][j] {
					w.remember(p.m, &p.m.Files[i].Chunks[j].Digest, i, j)
				}
			}
		}
		w.reuse, w.fetch = w.reuse+p.reuseBytes(), w.fetch+p.fetchBytes()
		for _, i := range files {
			if p.remaining[i].Load() == 0 {
				if err := s.fileDone(ctx, i); err != nil {
					return err
				}
			}
		}
		if err := s.produce(ctx, f, pool, p.reuse, p.fetch); err != nil {
			return err
		}
		for _, jobs := range [][]*job{p.reuse, p.fetch} {
			for _, jb := range jobs {
				t := jb.targets[0]
				w.remember(p.m, jb.digest, t.file, t.chunk)
			}
		}
		p.reuse, p.fetch = nil, nil
		w.tbl.unload(p.m, files)
	}
	s.log.Info().Int64("reuse", w.reuse).Int64("fetch", w.fetch).Int("windows", len(w.windows)).Msg("windows staged")
	return nil
}
