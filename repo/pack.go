package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/snapsync/snapsync/verify"
)

// A pack (format 2) is one object holding many chunks as blobs:
//
//	magic "SNAPPAK2" | blob | blob | …
//	blob: body length uint32 (big-endian) | body
//
// With encryption "none" a body is a format-1 chunk object: one encoding
// byte, then the raw bytes or a zstd frame; with "aes-256-gcm" that sealed:
// a nonce before, a tag after (crypt.go). Blobs are self-delimiting, so a
// pack can be walked without its index. Of an encrypted pack an attacker
// learns the blobs' sizes, nothing else: the pack ID hashes keyed IDs.
// A pack is named by the SHA-256 of its table of contents (openPack.id):
// packs/ab/abcdef….
const (
	packMagic      = "SNAPPAK2"
	packHeaderSize = len(packMagic)
	blobHeaderSize = 4
	// maxBlobOverhead is what a blob body may hold beyond the encoding byte
	// and the payload: room for a cipher's nonce and tag (sealOverhead).
	maxBlobOverhead = 64
	maxBlobBody     = verify.MaxChunkSize + 1 + maxBlobOverhead
	// DefaultPackSize is the size a pack is closed at. 16 MiB: a 300 MB
	// checkpoint is ~18 objects, and minio-go sends a pack of at most
	// 16 MiB as one PUT (a larger one as a multipart upload: three requests
	// or more). Restores read chunks by range, so a pack's size costs them
	// nothing.
	DefaultPackSize = 16 << 20
	// indexEvery is how many packs a backup stores before it writes their
	// index without waiting for its commit: 64 (1 GiB), so a killed backup
	// re-uploads at most that much (and what was in flight), while one of
	// under 1 GiB writes one index object and a 1 TB one about a thousand
	// (prune merges them into one).
	indexEvery = 64
	// maxInflight is how many full packs may be uploading at once.
	maxInflight = 2
	// maxPackSize bounds what a reader believes an index says of a pack.
	maxPackSize = 64 << 20
)

// openPack is a pack being filled in memory.
type openPack struct {
	buf     []byte
	entries []indexEntry // their pack ID is set when the pack is sealed
}

// id returns the pack's ID: the SHA-256 of its table of contents (each
// blob's chunk digest, offset, stored length and encoding), not of its
// bytes, which would cost a third hash of every byte backed up. Two packs
// of one ID hold the same chunks at the same places, each verified by its
// digest when read, so either may stand for the other.
func (op *openPack) id() verify.Digest {
	h := sha256.New()
	h.Write([]byte(packMagic))
	var b [verify.DigestSize + 9]byte
	for _, e := range op.entries {
		copy(b[:], e.digest[:])
		binary.BigEndian.PutUint32(b[verify.DigestSize:], e.offset)
		binary.BigEndian.PutUint32(b[verify.DigestSize+4:], e.stored)
		b[verify.DigestSize+8] = e.enc
		h.Write(b[:])
	}
	return verify.Digest(h.Sum(nil))
}

// packer gathers chunks into packs, uploads each full pack, and writes the
// index of the packs stored when flushed. It is safe for concurrent use:
// PutChunk calls of several streams fill one pack.
type packer struct {
	r    *Repo
	size int

	mu        sync.Mutex
	idle      *sync.Cond // signalled when inflight drops
	cur       *openPack
	inflight  int                        // packs being uploaded
	known     map[verify.Digest]struct{} // chunks packed and not yet indexed
	spare     [][]byte                   // buffers of packs uploaded, to reuse
	stored    []indexEntry               // in stored packs, not yet indexed
	unindexed int                        // packs stored, not yet indexed
	// indexEvery is how many packs stored make the packer write their
	// index before the flush: a killed backup loses at most that many.
	indexEvery int

	flushMu sync.Mutex // one flush at a time
}

func newPacker(r *Repo, size int) *packer {
	p := &packer{r: r, size: size, known: make(map[verify.Digest]struct{}), indexEvery: indexEvery}
	p.idle = sync.NewCond(&p.mu)
	return p
}

// has reports whether chunk d is in a pack not yet indexed.
func (p *packer) has(d verify.Digest) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.known[d]
	return ok
}

// add packs body, the stored form (encoding enc) of the chunk of stored ID
// d and raw bytes; it uploads the pack it closes, if it closes one. It
// returns false for a chunk packed already.
func (p *packer) add(ctx context.Context, d verify.Digest, body []byte, raw uint32, enc byte) (bool, error) {
	p.mu.Lock()
	var full *openPack
	for {
		if _, ok := p.known[d]; ok {
			p.mu.Unlock()
			return false, nil
		}
		if p.cur == nil || len(p.cur.buf)+blobHeaderSize+len(body) <= p.size {
			break
		}
		// Memory is bounded to maxInflight packs uploading and one open.
		// Waiting, another add may seal the pack or pack d: look again.
		if p.inflight < maxInflight {
			full, p.cur = p.cur, nil
			p.inflight++
			break
		}
		p.idle.Wait()
	}
	if p.cur == nil {
		p.cur = &openPack{buf: p.buffer(packHeaderSize + blobHeaderSize + len(body))}
		p.cur.buf = append(p.cur.buf, packMagic...)
	}
	loc := location{offset: uint32(len(p.cur.buf)), stored: uint32(len(body)), raw: raw, enc: enc}
	p.cur.buf = binary.BigEndian.AppendUint32(p.cur.buf, uint32(len(body)))
	p.cur.buf = append(p.cur.buf, body...)
	p.cur.entries = append(p.cur.entries, indexEntry{digest: d, location: loc})
	p.known[d] = struct{}{}
	p.mu.Unlock()
	if full == nil {
		return true, nil
	}
	if err := p.upload(ctx, full); err != nil {
		return true, err
	}
	return true, p.indexStored(ctx)
}

// indexStored writes the index of the packs stored, once there are
// indexEvery of them.
func (p *packer) indexStored(ctx context.Context) error {
	p.mu.Lock()
	if p.unindexed < p.indexEvery {
		p.mu.Unlock()
		return nil
	}
	entries := p.stored
	p.stored, p.unindexed = nil, 0
	p.mu.Unlock()
	return p.writeIndex(ctx, entries)
}

// buffer returns an empty buffer for a pack of at least n bytes: a spare
// one, or a new one of the pack size. p.mu is held.
func (p *packer) buffer(n int) []byte {
	if k := len(p.spare); k > 0 && cap(p.spare[k-1]) >= n {
		b := p.spare[k-1]
		p.spare = p.spare[:k-1]
		return b
	}
	return make([]byte, 0, max(p.size, n))
}

// upload stores the sealed pack op (counted in inflight by the caller) and
// makes its chunks ready to index; on failure they are forgotten, so a
// later PutChunk packs them again.
func (p *packer) upload(ctx context.Context, op *openPack) error {
	id := op.id()
	err := p.r.b.Put(ctx, PackKey(id), bytes.NewReader(op.buf), int64(len(op.buf)))
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.spare) < maxInflight {
		p.spare = append(p.spare, op.buf[:0])
	}
	op.buf = nil
	for i := range op.entries {
		if err != nil {
			delete(p.known, op.entries[i].digest)
			continue
		}
		op.entries[i].pack = id
		p.stored = append(p.stored, op.entries[i])
	}
	if err == nil {
		p.unindexed++
	}
	p.inflight--
	p.idle.Broadcast()
	if err != nil {
		return fmt.Errorf("repo: put pack %s: %w", id.Short(), err)
	}
	return nil
}

// flush uploads the open pack, waits for the packs being uploaded, and
// writes the index of every chunk stored and not yet indexed: packs first,
// then their index, so an index never names a pack that is not there.
func (p *packer) flush(ctx context.Context) error {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	entries, err := p.seal(ctx)
	if err != nil {
		p.requeue(entries)
		return err
	}
	return p.writeIndex(ctx, entries)
}

// writeIndex writes the index objects of entries (one per maxIndexEntries)
// and then forgets them: the loaded index holds them. Those it could not
// write are put back for the next flush.
func (p *packer) writeIndex(ctx context.Context, entries []indexEntry) error {
	for len(entries) > 0 {
		n := min(len(entries), maxIndexEntries)
		if _, err := p.r.putIndex(ctx, entries[:n]); err != nil {
			p.requeue(entries)
			return err
		}
		p.mu.Lock()
		for _, e := range entries[:n] {
			delete(p.known, e.digest)
		}
		p.mu.Unlock()
		entries = entries[n:]
	}
	return nil
}

// seal uploads the open pack, waits for the packs being uploaded, and
// returns (and forgets) the entries of every pack stored.
func (p *packer) seal(ctx context.Context) ([]indexEntry, error) {
	p.mu.Lock()
	full := p.cur
	p.cur = nil
	if full != nil {
		p.inflight++
	}
	p.mu.Unlock()
	var err error
	if full != nil {
		err = p.upload(ctx, full)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.inflight > 0 {
		p.idle.Wait()
	}
	entries := p.stored
	p.stored, p.unindexed = nil, 0
	return entries, err
}

// requeue puts entries back to be indexed by the next flush.
func (p *packer) requeue(entries []indexEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stored = append(p.stored, entries...)
}

// putIndex writes the index object of entries (sealed, in an encrypted
// repository), adds them to the loaded index, and returns its key.
func (r *Repo) putIndex(ctx context.Context, entries []indexEntry) (string, error) {
	b, err := r.crypt.sealObject(encodeIndex(entries), aadIndex)
	if err != nil {
		return "", err
	}
	key := IndexKey(sha256.Sum256(b))
	if err := r.putBytes(ctx, key, b); err != nil {
		return "", fmt.Errorf("repo: %w", err)
	}
	r.idx.add(entries)
	return key, nil
}
