package server

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/digestkey"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// installedCacheChunks bounds the follower digest cache read (the client's
// own bound: 4 Mi chunks).
const installedCacheChunks = 4 << 20

// installed serves the chunks of the database the node installed at dest,
// as the follower digest cache beside it maps them: a file of dest whose
// identity (device, inode, birth time, size, mtime) is a cache entry's
// holds that entry's chunks. The index is rebuilt, on the next call, when
// the cache file changed, looked at at most once every recheck. A nil
// *installed serves nothing.
type installed struct {
	dest, cache string
	recheck     time.Duration
	now         func() time.Time
	log         zerolog.Logger

	mu      sync.Mutex
	checked time.Time
	seen    durable.Info // the cache file indexed
	cur     *installedChunks
}

// installedChunks is one index of the installed database's chunks.
type installedChunks struct {
	dest  string
	key   digestkey.Key
	files []installedFile
	byKey map[uint64]fileChunk
}

// installedFile is a file of dest the cache describes.
type installedFile struct {
	rel       string // slash-separated, below dest
	size      int64
	chunkSize uint32
}

// fileChunk is chunk j of files[file]: with its key, 16 bytes of map slot.
type fileChunk struct{ file, j uint32 }

// newInstalled serves dest's chunks by the follower digest cache at cache
// (client: ".snapsync-NAME.digests" beside dest); nil for an empty dest.
func newInstalled(dest, cache string, recheck time.Duration, now func() time.Time, log zerolog.Logger) *installed {
	if dest == "" {
		return nil
	}
	if cache == "" {
		cache = filepath.Join(filepath.Dir(dest), ".snapsync-"+filepath.Base(dest)+".digests")
	}
	return &installed{dest: dest, cache: cache, recheck: recheck, now: now, log: log}
}

// current returns the index, rebuilt first if the cache file changed since
// it was built and was not looked at within recheck; nil when there is none.
func (in *installed) current(ctx context.Context) *installedChunks {
	if in == nil {
		return nil
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	now := in.now()
	if !in.checked.IsZero() && now.Sub(in.checked) < in.recheck {
		return in.cur
	}
	in.checked = now
	info, err := durable.Lstat(in.cache)
	if err != nil {
		in.cur, in.seen = nil, durable.Info{}
		return nil
	}
	if in.cur != nil && info.ID == in.seen.ID && info.Size == in.seen.Size && info.Mtime == in.seen.Mtime {
		return in.cur
	}
	cur, err := indexInstalled(ctx, in.dest, in.cache)
	if err != nil {
		in.log.Warn().Err(err).Str("dest", in.dest).Msg("installed database not served by digest")
		cur = nil
	}
	in.cur, in.seen = cur, info
	return cur
}

// indexInstalled reads the cache at cache (if snapsync's own:
// digestcache.ReadTrusted) and walks dest, without following a symlink,
// for the files whose identity it records.
func indexInstalled(ctx context.Context, dest, cache string) (*installedChunks, error) {
	b, err := digestcache.ReadTrusted(durable.OS(), cache, installedCacheChunks)
	if err != nil {
		return nil, fmt.Errorf("read digest cache: %w", err)
	}
	_, entries, err := digestcache.Decode(b, installedCacheChunks)
	if err != nil {
		return nil, fmt.Errorf("decode digest cache %s: %w", cache, err)
	}
	sizes := make(map[uint32]bool)
	for k := range entries {
		sizes[k.ChunkSize] = true
	}
	d, err := durable.OpenDir(dest)
	if err != nil {
		return nil, fmt.Errorf("open installed database: %w", err)
	}
	defer d.Close() // read-only: nothing to lose
	ic := &installedChunks{dest: dest, key: digestkey.New(), byKey: make(map[uint64]fileChunk)}
	err = walkInstalled(ctx, durable.Beneath(d), dest, ".", func(rel string, info durable.Info) {
		for cs := range sizes {
			if e, ok := entries[digestcache.KeyOf(info, cs)]; ok {
				ic.add(rel, info.Size, cs, e.Chunks)
				return
			}
		}
	})
	if err != nil {
		return nil, err
	}
	return ic, nil
}

// walkInstalled calls file for each regular file below dir (rel to dest);
// symlinks and other special files are skipped.
func walkInstalled(ctx context.Context, fsys durable.StageFS, dest, rel string, file func(string, durable.Info)) error {
	if err := ctx.Err(); err != nil {
		return context.Cause(ctx)
	}
	list, err := fsys.ReadDirInfo(filepath.Join(dest, filepath.FromSlash(rel)))
	if err != nil {
		return fmt.Errorf("walk installed database: %w", err)
	}
	for _, e := range list {
		r := path.Join(rel, e.Name)
		switch {
		case e.Mode.IsDir():
			if err := walkInstalled(ctx, fsys, dest, r, file); err != nil {
				return err
			}
		case e.Mode.IsRegular():
			file(r, e.Info)
		}
	}
	return nil
}

func (ic *installedChunks) add(rel string, size int64, chunkSize uint32, chunks []verify.Chunk) {
	if int64(len(chunks)) != verify.ChunkCount(size, chunkSize) {
		return // not this file's chunk list
	}
	fi := uint32(len(ic.files))
	ic.files = append(ic.files, installedFile{rel: rel, size: size, chunkSize: chunkSize})
	for j := range chunks {
		k := ic.key.Of(&chunks[j].Digest)
		if _, dup := ic.byKey[k]; !dup {
			ic.byKey[k] = fileChunk{file: fi, j: uint32(j)}
		}
	}
}

func (ic *installedChunks) has(d verify.Digest) bool {
	if ic == nil {
		return false
	}
	_, ok := ic.byKey[ic.key.Of(&d)]
	return ok
}

// read appends chunk d to buf, read from its file below dest (opened
// beneath it: no symlink followed) and hashed again.
func (ic *installedChunks) read(d verify.Digest, buf []byte) ([]byte, error) {
	if ic == nil {
		return nil, ErrNoChunk
	}
	ref, ok := ic.byKey[ic.key.Of(&d)]
	if !ok {
		return nil, ErrNoChunk
	}
	f := ic.files[ref.file]
	dir, err := durable.OpenDir(ic.dest)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoChunk, d.Short(), err)
	}
	defer dir.Close() // read-only: nothing to lose
	file, err := durable.Beneath(dir).OpenFile(filepath.Join(ic.dest, filepath.FromSlash(f.rel)), os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %w", ErrNoChunk, d.Short(), err)
	}
	defer file.Close() // read-only: nothing to lose
	j := int(ref.j)
	return readAtVerified(file, verify.Offset(f.chunkSize, j), int(verify.ChunkLength(f.size, f.chunkSize, j)), d, buf)
}
