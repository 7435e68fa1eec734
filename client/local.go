package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// localFile is a file of a local tree (the current database or an earlier
// staging) with the chunks of its content at the manifest's chunk size.
type localFile struct {
	rel      string // slash-separated, relative to its tree
	path     string
	fromDest bool
	info     fs.FileInfo
	chunks   []verify.Chunk
	// same is the first name of the same inode, whose chunks this one
	// shares (it is not hashed again), or nil.
	same *localFile
	// synced: the file's identity was in the follower digest cache, so
	// snapsync verified, wrote and fsynced it, and it has not changed since.
	synced bool
	// pending: the first chunk passed the prefilter, the others are not
	// hashed yet (chunks has room for them all).
	pending bool
	// failed: a read of the file failed while its chunks were hashed.
	failed atomic.Bool
}

// chunkLoc is where a chunk's bytes are found locally.
type chunkLoc struct {
	file *localFile
	off  int64
}

// contentKey identifies a whole file's content by its size and chunk list.
type contentKey struct {
	size int64
	sum  verify.Digest
}

func contentOf(chunks []verify.Chunk, size int64) contentKey {
	b := make([]byte, 0, len(chunks)*(4+verify.DigestSize))
	for _, c := range chunks {
		b = append(b, byte(c.Length>>24), byte(c.Length>>16), byte(c.Length>>8), byte(c.Length))
		b = append(b, c.Digest[:]...)
	}
	return contentKey{size: size, sum: verify.Sum(b)}
}

// localIndex finds local copies of chunks and of whole files, by content.
type localIndex struct {
	byDigest  map[verify.Digest]chunkLoc
	byContent map[contentKey][]*localFile
	files     int   // names indexed
	bytes     int64 // of the distinct inodes indexed
	hashed    int64 // inodes read and hashed (if only their first chunk): each once
	cached    int64 // inodes whose chunks the follower cache held
	skipped   int64 // inodes the prefilter left unread by their size
	read      int64 // bytes read and hashed
}

// localTree is a directory whose files may hold reusable content.
type localTree struct {
	root     string
	fromDest bool
}

// indexTrees finds the local content the plan can use: scanLocal, then
// hashRest, then index (see them). pf, if not nil, is the prefilter: a file
// it skips is not read, and one whose first chunk it refuses is not read
// further. need is what the plan needs (nil: everything).
func indexTrees(ctx context.Context, trees []localTree, chunkSize int, pf *prefilter, need *digestSet, cache *localCache, log zerolog.Logger) (*localIndex, error) {
	sc, err := scanLocal(ctx, trees, chunkSize, pf, cache, log)
	if err != nil {
		return nil, err
	}
	if err := sc.hashRest(ctx); err != nil {
		return nil, err
	}
	return sc.index(need), nil
}

// byInode returns the first name of each distinct inode of files, and points
// every later name's same at it. A file without inode information is its
// own.
func byInode(files []*localFile) []*localFile {
	seen := make(map[durable.FileID]*localFile, len(files))
	first := make([]*localFile, 0, len(files))
	for _, f := range files {
		id := durable.InfoID(f.info)
		if g, ok := seen[id]; ok && !id.IsZero() {
			f.same = g
			continue
		}
		seen[id] = f
		first = append(first, f)
	}
	return first
}

// buildIndex indexes each inode's chunks once, and every name by content.
func buildIndex(files []*localFile, need *digestSet) *localIndex {
	x := &localIndex{byDigest: make(map[verify.Digest]chunkLoc), byContent: make(map[contentKey][]*localFile)}
	keys := make(map[*localFile]contentKey) // by an inode's first name
	for _, f := range files {
		first := f
		if f.same != nil {
			first = f.same
		}
		if first.pending || (first.chunks == nil && f.info.Size() > 0) {
			continue // not hashed yet, unreadable or refused by the prefilter
		}
		x.files++
		k, ok := keys[first]
		if !ok {
			k = contentOf(f.chunks, f.info.Size())
			keys[first] = k
			x.bytes += f.info.Size()
			x.indexChunks(f, need)
		}
		x.byContent[k] = append(x.byContent[k], f)
	}
	return x
}

// indexChunks records where each needed chunk of f is, unless known.
func (x *localIndex) indexChunks(f *localFile, need *digestSet) {
	var off int64
	for _, c := range f.chunks {
		if _, seen := x.byDigest[c.Digest]; !seen && need.has(&c.Digest) {
			x.byDigest[c.Digest] = chunkLoc{file: f, off: off}
		}
		off += int64(c.Length)
	}
}

// listTree lists the regular files below t.root.
func listTree(t localTree) ([]*localFile, error) {
	var files []*localFile
	err := filepath.WalkDir(t.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // the tree, or an entry of it, is gone
			}
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		info, err := d.Info()
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		} else if err != nil {
			return err
		}
		rel, err := filepath.Rel(t.root, p)
		if err != nil {
			return err
		}
		files = append(files, &localFile{rel: filepath.ToSlash(rel), path: p, fromDest: t.fromDest, info: info})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", t.root, err)
	}
	return files, nil
}

// readChunk reads the chunk at loc into buf[:length] and checks it against
// want; a local copy that changed since it was hashed is refused.
func readChunk(loc chunkLoc, want verify.Digest, length uint32, buf []byte) ([]byte, error) {
	f, err := durable.OpenNoFollow(loc.file.path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := buf[:length]
	if _, err := f.ReadAt(b, loc.off); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s shrank: %w", loc.file.path, io.ErrUnexpectedEOF)
		}
		return nil, err
	}
	if err := verify.CheckDigest(fmt.Sprintf("local chunk at %d of %s", loc.off, loc.file.path), want, verify.Sum(b)); err != nil {
		return nil, err
	}
	return b, nil
}

// bufPool hands out chunk buffers of one size.
type bufPool struct {
	size int
	pool sync.Pool
}

func newBufPool(size int) *bufPool {
	p := &bufPool{size: size}
	p.pool.New = func() any { b := make([]byte, size); return &b }
	return p
}

func (p *bufPool) get() *[]byte  { return p.pool.Get().(*[]byte) }
func (p *bufPool) put(b *[]byte) { p.pool.Put(b) }
