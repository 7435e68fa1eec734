package client

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// Follower digest cache (docs/DESIGN.md invariant 8, the follower's half).
//
// The follower trusts a chunk list only if snapsync itself computed it: the
// files of a tree it verified chunk by chunk and staged. When a stage is
// finished, each file's identity (device, inode, birth time where the
// filesystem records one, size, mtime) and chunk size are recorded with the
// manifest's chunks in the staging area ("digests"). Once the tree is swapped
// in (inodes survive the rename), that record is renamed beside the
// destination, as StagingDir+".digests" (".snapsync-NAME.digests"): outside
// the tree that is swapped, on its filesystem, owned by the install (the
// staging area's lock covers it) and replaced whole by each install, so it
// holds exactly the installed DB's files and never grows with history.
//
// The next install reads it before planning and does not hash a local file
// whose identity is recorded with the chunk size in use; any file touched
// (mtime or size changed) or replaced (new inode or birth time) is hashed
// again. Config.VerifyLocal ignores the cache and hashes everything. A cache
// that cannot be read or decoded, or that another uid could have written
// (digestcache.CheckTrusted), is ignored with a warning.
//
// What is trusted, exactly: a chunk copied from a cached file is still
// hashed before it is written, but a whole immutable file of the current DB
// whose recorded chunks match is hard-linked into the new tree without being
// read again. That is the server's own trust in its digest cache (and more
// than rsync's size-and-mtime check): a file snapsync verified and wrote,
// whose identity has not changed, is taken to hold what it verified. That is
// why the cache file itself must be one only this uid could have written: a
// planted one could say an old SST holds a new one's chunks and have it
// linked in under the new one's name. A file changed in place with its size
// and mtime put back (or rotted on disk) is not seen; RocksDB's block
// checksums still are, and --verify-local (Config.VerifyLocal) re-hashes
// everything.

// localCache maps identities to the chunk lists snapsync verified, in the
// digest cache format shared with the server (internal/digestcache).
type localCache struct {
	entries map[digestcache.Key]*digestcache.Entry
}

// lookup returns the recorded chunks of the file at path, lstat'ed now, and
// whether it has them. A nil cache holds nothing.
func (c *localCache) lookup(path string, chunkSize uint32) ([]verify.Chunk, bool) {
	if c == nil || len(c.entries) == 0 {
		return nil, false
	}
	info, err := durable.Lstat(path)
	if err != nil || !info.Mode.IsRegular() || info.ID.IsZero() {
		return nil, false
	}
	e, ok := c.entries[digestcache.KeyOf(info, chunkSize)]
	if !ok {
		return nil, false
	}
	return e.Chunks, true
}

// maxCacheChunks bounds what a cache file may hold: at the smallest chunk
// size this is 4M chunks (~150 MiB of file), far above any real DB's count
// and below what would hurt to decode.
const maxCacheChunks = 4 << 20

// loadLocalCache reads the follower cache beside Dest. A missing file is an
// empty cache; one that cannot be read or decoded, or that this process
// cannot trust (digestcache.ReadTrusted: written by this uid alone), is ignored with a warning.
//
// A set install (Config.Replace) keeps no cache: Dest is a directory whose
// other entries must stay exactly as they are, and its staging area goes
// with each install, so there is nowhere of its own to keep one; its local
// files are hashed on every install.
func loadLocalCache(l layout, log zerolog.Logger) *localCache {
	if l.set {
		return nil
	}
	path := l.cachePath()
	b, err := digestcache.ReadTrusted(l.fs, path, maxCacheChunks)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	var entries map[digestcache.Key]*digestcache.Entry
	if err == nil {
		_, entries, err = digestcache.Decode(b, maxCacheChunks)
	}
	if err != nil {
		log.Warn().Err(err).Str("path", path).Msg("ignoring the digest cache: every local file is hashed")
		return nil
	}
	return &localCache{entries: entries}
}

// recordStaged records the identity and chunks of every file of the
// finished stage/ in the staging area, for promoteCache to put in place once
// the tree is swapped in. It only saves later work: a failure is logged and
// leaves no record.
//
// A chunk list m does not hold is read back from tbl as the record's
// encoding comes to it.
func recordStaged(l layout, m *verify.Manifest, tbl *chunkTable, log zerolog.Logger) {
	// A slice, not a map: 64 bytes a file with content. An empty file gets
	// no entry: it has nothing to hash, and is never placed from a local
	// copy (wholeMatch), so a million of them cost nothing here.
	n := 0
	for i := range m.Files {
		if m.Files[i].LinkTo < 0 && m.Files[i].Size > 0 {
			n++
		}
	}
	items := make([]digestcache.Item, 0, n)
	err := eachStaged(l.fs, l.stage, m, func(i int, info durable.Info) {
		f := &m.Files[i]
		if f.LinkTo >= 0 || f.Size == 0 || info.ID.IsZero() || info.Size != f.Size || len(items) == n {
			return // a member is its leader's inode; no identity to key by
		}
		it := digestcache.Item{Key: digestcache.KeyOf(info, m.ChunkSize), Entry: &digestcache.Entry{Chunks: f.Chunks}}
		if f.Chunks == nil {
			it.Entry, it.Load = nil, func() ([]verify.Chunk, error) { return tbl.chunks(m, i) }
		}
		items = append(items, it)
	})
	var b []byte
	if err == nil {
		b, err = digestcache.EncodeLoading(0, items)
	}
	if err == nil {
		err = durable.WriteFile(l.fs, l.stagedDigests(), b, 0o600)
	}
	if err != nil {
		log.Warn().Err(err).Msg("no digest cache for this install")
		if rerr := l.fs.Remove(l.stagedDigests()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			log.Warn().Err(rerr).Msg("remove the staged digest record")
		}
	}
}

// promoteCache replaces the follower cache with the record of the tree just
// swapped in, or removes it when there is no record (it would describe the
// old tree's files only).
func promoteCache(l layout) error {
	if l.set {
		return nil // a set install keeps no cache (loadLocalCache); the record goes with the staging area
	}
	_, err := l.fs.Lstat(l.stagedDigests())
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := durable.Remove(l.fs, l.cachePath()); err != nil {
			return fmt.Errorf("remove stale digest cache: %w", err)
		}
		return nil
	case err != nil:
		return fmt.Errorf("stat digest record: %w", err)
	}
	if err := l.fs.Rename(l.stagedDigests(), l.cachePath()); err != nil {
		return fmt.Errorf("install digest cache: %w", err)
	}
	return l.fs.SyncDir(filepath.Dir(l.cachePath()))
}
