package digestcache

import (
	"cmp"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// Key identifies a file's content without reading it: an SST hard-linked
// into successive checkpoints, or left in place by the last install, keeps
// its identity, size and mtime. The birth time in ID tells a reused inode
// apart. ctime is left out on purpose: linking a file changes it.
type Key struct {
	ID        durable.FileID
	Size      int64
	MtimeNs   int64
	ChunkSize uint32
}

// KeyOf returns the key of a file described by info, cut into chunks of
// chunkSize bytes.
func KeyOf(info durable.Info, chunkSize uint32) Key {
	return Key{ID: info.ID, Size: info.Size, MtimeNs: info.Mtime, ChunkSize: chunkSize}
}

// Compare orders keys by device, inode, birth time, size, mtime and chunk
// size: the order of the entries of a cache file.
func Compare(a, b Key) int {
	return cmp.Or(cmp.Compare(a.ID.Dev, b.ID.Dev), cmp.Compare(a.ID.Ino, b.ID.Ino), cmp.Compare(a.ID.Birth, b.ID.Birth),
		cmp.Compare(a.Size, b.Size), cmp.Compare(a.MtimeNs, b.MtimeNs), cmp.Compare(a.ChunkSize, b.ChunkSize))
}

// Entry is the chunk list recorded for a key.
type Entry struct {
	Chunks []verify.Chunk
	// Used is the generation that last used the entry (the server's eviction
	// clock); 0 where the writer keeps no generations.
	Used uint64
}
