package client

import (
	"context"
	"os"
	"runtime"
	"slices"
	"sync/atomic"
	"syscall"

	"github.com/rs/zerolog"
	"golang.org/x/sync/errgroup"

	"github.com/snapsync/snapsync/chunker"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// Reading only what can match (docs/DESIGN.md, How an install runs: Plan).
//
// A local file of the current database that the engine never changes in
// place (an SST or blob file: Config.Immutable) and whose size is no
// manifest file's is not read at all: it cannot be a copy of one, and an
// SST that differs differs from its first block, so it holds no chunk the
// plan needs. Any other local file the follower digest cache does not know
// is read in two steps. scanLocal hashes its first chunk only; unless the
// prefilter wants that digest (a chunk the plan needs, or the first chunk
// of a manifest file, so that a whole-file match is never lost), the file
// is not read on and contributes nothing. hashRest then hashes the rest of
// the files that passed, cut into ranges of chunks spread over every core,
// so one large file is not hashed by one core. Between the two, the plan
// already knows which manifest files a candidate may supply (by first
// chunk) and fetches everything else (deferred.go).

// hashRange is the bytes of a file one hashing task reads: large enough that
// an open per task costs nothing, small enough to spread a large file over
// the cores.
const hashRange = 16 << 20

// prefilter is what scanLocal reads a local file of the current database
// by: want, the digests its first chunk must be one of to be read on (nil:
// every file is read whole, the exhaustive --verify-local), and, for the
// files immutable accepts, sizes, the sorted sizes of the manifest's files,
// one of which such a file's size must be to be read at all.
type prefilter struct {
	want      *digestSet
	sizes     []int64
	immutable func(rel string) bool
}

// newPrefilter is the prefilter of an install of m that needs want (nil:
// exhaustive, no file skipped).
func newPrefilter(m *verify.Manifest, want *digestSet, immutable func(string) bool) *prefilter {
	if want == nil {
		return nil
	}
	sizes := make([]int64, 0, len(m.Files))
	for i := range m.Files {
		if f := &m.Files[i]; f.LinkTo < 0 && f.Size > 0 {
			sizes = append(sizes, f.Size)
		}
	}
	slices.Sort(sizes)
	return &prefilter{want: want, sizes: slices.Compact(sizes), immutable: immutable}
}

// skips reports whether f, a file of the current database, is left unread:
// immutable, and of no manifest file's size.
func (pf *prefilter) skips(f *localFile) bool {
	if pf == nil || pf.immutable == nil || !f.fromDest || !pf.immutable(f.rel) {
		return false
	}
	_, found := slices.BinarySearch(pf.sizes, f.info.Size())
	return !found
}

// wants reports whether a file of the current database whose first chunk
// has digest d is read on (nil: always).
func (pf *prefilter) wants(d *verify.Digest) bool { return pf == nil || pf.want.has(d) }

// localScan is the local trees after scanLocal: every name, the first name
// of each distinct inode, and the candidates whose other chunks are still to
// hash.
type localScan struct {
	files     []*localFile
	chunkSize int
	pool      *bufPool
	log       zerolog.Logger
	hashed    atomic.Int64 // inodes read, if only their first chunk
	skipped   atomic.Int64 // inodes the prefilter left unread by their size
	cached    atomic.Int64 // inodes the follower cache knew
	read      atomic.Int64 // bytes read and hashed
	pending   []*localFile // first names whose first chunk passed, rest not hashed
}

// scanLocal lists the regular files of the trees (symlinks and other entries
// are skipped, missing trees are empty), takes the chunks of each inode the
// follower cache knows from it (cache may be nil), and hashes the first chunk
// of every other inode, once however many names it has in Dest and earlier
// stagings (an OM's SST linked into every snapshot), unless pf skips it by
// its size. A file of one chunk is then hashed whole; a longer one is a
// candidate, left pending for hashRest, if pf (nil: exhaustive) wants its
// first chunk's digest, and is otherwise refused: not indexed at all. The
// files of an earlier staging (prev/) are hashed whole at once: they were
// written chunk by chunk in any order, so a file's head may be missing while
// later chunks are in place, and its first chunk says nothing of the rest. A
// file that cannot be read is skipped: reuse is opportunistic, and every
// reused byte is checked again when it is copied.
func scanLocal(ctx context.Context, trees []localTree, chunkSize int, pf *prefilter, cache *localCache, log zerolog.Logger) (*localScan, error) {
	sc := &localScan{chunkSize: chunkSize, pool: newBufPool(chunkSize), log: log}
	for _, t := range trees {
		found, err := listTree(t)
		if err != nil {
			return nil, err
		}
		sc.files = append(sc.files, found...)
	}
	first := byInode(sc.files)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, f := range first {
		g.Go(func() error { return sc.head(gctx, f, cache, pf) })
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var prev []*localFile
	for _, f := range first {
		switch {
		case !f.pending || f.failed.Load():
		case f.fromDest:
			sc.pending = append(sc.pending, f)
		default:
			prev = append(prev, f)
		}
	}
	if err := sc.hashFiles(ctx, prev); err != nil {
		return nil, err
	}
	return sc, nil
}

// head gives f its chunks from the cache, or hashes its first chunk and
// decides whether it is a candidate.
func (sc *localScan) head(ctx context.Context, f *localFile, cache *localCache, pf *prefilter) error {
	size := f.info.Size()
	if size == 0 {
		return nil // no chunks: nothing to read or look up (and the cache keeps no empty files)
	}
	if cs, ok := cache.lookup(f.path, uint32(sc.chunkSize)); ok {
		sc.cached.Add(1)
		f.chunks, f.synced = cs, true
		return nil
	}
	if pf.skips(f) {
		sc.skipped.Add(1)
		return nil
	}
	sc.hashed.Add(1)
	head := make([]verify.Chunk, 1)
	if err := sc.hashChunks(ctx, f, 0, head); err != nil {
		return err
	}
	n := chunker.Count(size, sc.chunkSize)
	switch {
	case f.failed.Load():
	case n == 1:
		f.chunks = head
	case !f.fromDest || pf.wants(&head[0].Digest): // room for the others only now
		f.chunks, f.pending = append(head, make([]verify.Chunk, n-1)...), true
	}
	return nil
}

// hashRest hashes the candidates' other chunks (hashFiles).
func (sc *localScan) hashRest(ctx context.Context) error {
	err := sc.hashFiles(ctx, sc.pending)
	sc.pending = nil
	return err
}

// hashFiles hashes the other chunks of files whose first chunk is hashed,
// in ranges of hashRange bytes on every core, and drops the files a read
// failed on.
func (sc *localScan) hashFiles(ctx context.Context, files []*localFile) error {
	per := max(hashRange/sc.chunkSize, 1)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.GOMAXPROCS(0))
	for _, f := range files {
		for k := 1; k < len(f.chunks); k += per {
			out := f.chunks[k:min(k+per, len(f.chunks))]
			g.Go(func() error { return sc.hashChunks(gctx, f, k, out) })
		}
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for _, f := range files {
		f.pending = false
		if f.failed.Load() {
			f.chunks = nil
		}
	}
	return nil
}

// hashChunks hashes out, f's chunks from number first on. A file that
// cannot be read, or ends early, is marked failed; only the context's end
// is an error.
func (sc *localScan) hashChunks(ctx context.Context, f *localFile, first int, out []verify.Chunk) error {
	if f.failed.Load() {
		return nil
	}
	fh, err := durable.OpenNoFollow(f.path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err == nil {
		buf := sc.pool.get()
		err = chunker.HashAt(ctx, fh, f.info.Size(), sc.chunkSize, first, out, *buf)
		sc.pool.put(buf)
		_ = fh.Close() // read only: nothing to lose
	}
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		sc.log.Debug().Err(err).Str("path", f.path).Msg("skip local file")
		f.failed.Store(true)
		return nil
	}
	for _, c := range out {
		sc.read.Add(int64(c.Length))
	}
	return nil
}

// index indexes the files hashed so far (pending candidates are left out)
// with the chunks need holds: every name by content, each inode's chunks
// once.
func (sc *localScan) index(need *digestSet) *localIndex {
	for _, f := range sc.files {
		if f.same != nil {
			f.chunks, f.synced = f.same.chunks, f.same.synced
		}
	}
	x := buildIndex(sc.files, need)
	x.hashed, x.cached, x.read, x.skipped = sc.hashed.Load(), sc.cached.Load(), sc.read.Load(), sc.skipped.Load()
	return x
}
