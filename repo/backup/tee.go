package backup

import (
	"context"
	"errors"
	"sync/atomic"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/verify"
)

// Tee stores, during the source's manifest build, the chunks it reads and
// hashes: for a source served inside the backup's own process (backup
// --from dir: or pebble:), so each byte of a new chunk is read once and
// hashed once, the hash that names it. Its Hashed is the source server's
// Config.OnHashed; Run attaches it to the repository, under the backup
// lock, before it asks for the checkpoint. The chunks the build does not
// read (the digest cache knew their file) and the repository lacks are then
// fetched as from any source. The bytes come from the server's own read and
// hash in this process: nothing crosses a trust boundary between the hash
// and the store.
type Tee struct {
	repo   atomic.Pointer[repo.Repo]
	stored atomic.Int64 // bytes stored
	chunks atomic.Int64 // chunks stored
	bytes  atomic.Int64 // raw bytes of the chunks stored
}

// ErrDetached is returned for a chunk a build hashed with no backup running to take it.
var ErrDetached = errors.New("backup: a chunk was hashed with no backup attached to store it")

// Hashed stores the chunk c, whose bytes data were just hashed to c's
// digest, unless the repository has it.
func (t *Tee) Hashed(ctx context.Context, c verify.Chunk, data []byte) error {
	r := t.repo.Load()
	if r == nil {
		return ErrDetached
	}
	n, err := r.PutVerified(ctx, c.Digest, data)
	if err != nil {
		return err
	}
	if n > 0 {
		t.stored.Add(n)
		t.chunks.Add(1)
		t.bytes.Add(int64(c.Length))
	}
	return nil
}
