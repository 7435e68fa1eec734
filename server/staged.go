package server

import (
	"sync"

	"github.com/snapsync/snapsync/internal/digestkey"
	"github.com/snapsync/snapsync/verify"
)

// DefaultStagedChunks is StagedChunks's bound when NewStagedChunks is given
// none: 1 TiB of 1 MiB chunks, in about 64 MiB (61 bytes a chunk, map and
// ring, measured by BenchmarkIndexMemory).
const DefaultStagedChunks = 1 << 20

// StagedChunks is the registry of chunks an install in progress verified
// and wrote into its staging area, which the sidecar serves by digest
// (Config.Staged) to peers installing the same checkpoint. The install
// adds each chunk as it is written (client.Config.OnChunkStaged) and resets
// the registry when its staging area goes. Entries are bounded: beyond the
// bound, the oldest is dropped. A chunk is hashed again as it is read, so a
// staged file rewritten or removed since is a miss. Safe for concurrent use.
type StagedChunks struct {
	max int
	key digestkey.Key

	mu    sync.Mutex
	byKey map[uint64]stagedRef
	order []uint64 // keys in the order added, a ring once full
	next  int      // the oldest key of a full ring
	paths []string
	ids   map[string]uint32
}

// stagedRef is where a staged chunk is: length bytes at off of paths[path].
type stagedRef struct {
	off    int64
	path   uint32
	length uint32
}

// NewStagedChunks returns an empty registry of at most max chunks (<= 0:
// DefaultStagedChunks).
func NewStagedChunks(max int) *StagedChunks {
	if max <= 0 {
		max = DefaultStagedChunks
	}
	r := &StagedChunks{max: max, key: digestkey.New()}
	r.Reset()
	return r
}

// Add records that the length bytes at off of the file at path are chunk d,
// verified. The file must stay where it is until Reset; one rewritten since
// is a miss on read.
func (r *StagedChunks) Add(d verify.Digest, path string, off int64, length uint32) {
	k := r.key.Of(&d)
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.ids[path]
	if !ok {
		id = uint32(len(r.paths))
		r.paths = append(r.paths, path)
		r.ids[path] = id
	}
	if _, dup := r.byKey[k]; !dup {
		if len(r.order) < r.max {
			r.order = append(r.order, k)
		} else {
			delete(r.byKey, r.order[r.next])
			r.order[r.next] = k
			r.next = (r.next + 1) % r.max
		}
	}
	r.byKey[k] = stagedRef{off: off, path: id, length: length}
}

// Reset forgets every chunk: the install ended and its staging area went.
// A nil registry has nothing to forget.
func (r *StagedChunks) Reset() {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.byKey, r.order, r.next = make(map[uint64]stagedRef), nil, 0
	r.paths, r.ids = nil, make(map[string]uint32)
}

// Len returns how many chunks the registry holds.
func (r *StagedChunks) Len() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byKey)
}

// has reports whether the registry names chunk d (a hint).
func (r *StagedChunks) has(d verify.Digest) bool {
	if r == nil {
		return false
	}
	k := r.key.Of(&d)
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.byKey[k]
	return ok
}

// read appends chunk d to buf, read from where it was staged and hashed
// again; ErrNoChunk when the registry does not name it or the bytes there
// are no longer d's.
func (r *StagedChunks) read(d verify.Digest, buf []byte) ([]byte, error) {
	if r == nil {
		return nil, ErrNoChunk
	}
	k := r.key.Of(&d)
	r.mu.Lock()
	ref, ok := r.byKey[k]
	var path string
	if ok {
		path = r.paths[ref.path]
	}
	r.mu.Unlock()
	if !ok {
		return nil, ErrNoChunk
	}
	return readVerified(path, ref.off, int(ref.length), d, buf)
}
