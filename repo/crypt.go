package repo

import (
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"fmt"

	"github.com/snapsync/snapsync/verify"
)

// What an encrypted repository stores, under two subkeys derived from its
// master key (keyslot.go) with HKDF-SHA-256 (Expand; the master key is
// uniformly random):
//
//   - Every blob body is nonce (12, random) | AES-256-GCM(blob key, body) |
//     tag (16), where body is the encoding byte and the payload as in a
//     plaintext repository, authenticated with the chunk's stored ID as
//     additional data: a blob moved to another chunk's place does not open.
//   - A chunk's stored ID (its name in index objects, and what packs' names
//     hash) is HMAC-SHA-256(ID key, "chunk" | SHA-256 of its bytes); the
//     SHA-256 itself is still checked after every decrypt.
//   - A snapshot's objects are named by HMAC-SHA-256(ID key, "snapshot" |
//     snapshot ID), not by the ID: the ID is the SHA-256 of the manifest,
//     which follows from the DB's contents. The snapshot object holds the
//     ID, encrypted, and must name it.
//   - Index objects and snapshot objects are sealed whole like a blob
//     (additional data: "index", or the snapshot object's key); manifests,
//     which may be large and are never read whole, in segments (stream.go).
//
// An attacker holding the bucket learns the number and sizes of packs,
// blobs, index objects, manifests and snapshots, and when each was written,
// and nothing of what they hold; changing any object is detected on read.
// Nonces are random: AES-GCM allows 2^32 of them under one key, i.e. about
// four billion chunks stored over the repository's life (4 PiB of distinct
// 1 MiB chunks), far beyond any repository snapsync makes.
const (
	blobKeyInfo = "snapsync blob key v1 aes-256-gcm"
	idKeyInfo   = "snapsync id key v1 hmac-sha256"
	aadIndex    = "index"
)

// crypt is an encrypted repository's cipher and ID key. A nil *crypt is a
// plaintext repository: names are the digests, objects stored as they are.
type crypt struct {
	aead  cipher.AEAD // AES-256-GCM under the blob key
	idKey []byte      // HMAC-SHA-256 key of stored names
}

// newCrypt derives the subkeys of master.
func newCrypt(master []byte) (*crypt, error) {
	blobKey, err := hkdf.Expand(sha256.New, master, blobKeyInfo, KeySize)
	if err != nil {
		return nil, fmt.Errorf("repo: derive blob key: %w", err)
	}
	idKey, err := hkdf.Expand(sha256.New, master, idKeyInfo, KeySize)
	if err != nil {
		return nil, fmt.Errorf("repo: derive ID key: %w", err)
	}
	aead, err := newGCM(blobKey)
	if err != nil {
		return nil, err
	}
	return &crypt{aead: aead, idKey: idKey}, nil
}

// keyed returns HMAC-SHA-256(idKey, domain | d), or d itself for a
// plaintext repository.
func (c *crypt) keyed(domain string, d verify.Digest) verify.Digest {
	if c == nil {
		return d
	}
	h := hmac.New(sha256.New, c.idKey)
	h.Write([]byte(domain))
	h.Write(d[:])
	return verify.Digest(h.Sum(nil))
}

// chunkID returns the stored ID of the chunk with digest d.
func (c *crypt) chunkID(d verify.Digest) verify.Digest { return c.keyed("chunk", d) }

// snapshotName returns the name of snapshot id's objects.
func (c *crypt) snapshotName(id verify.Digest) verify.Digest { return c.keyed("snapshot", id) }

// overhead returns what sealing adds to an object or a blob body.
func (c *crypt) overhead() int {
	if c == nil {
		return 0
	}
	return sealOverhead
}

// sealBody seals, in place, the blob body of stored chunk id held in
// buf[nonceSize:] behind nonceSize bytes of room; buf's capacity should
// leave tagSize bytes more, or the tag costs a copy. A plaintext
// repository stores buf[nonceSize:] as it is.
func (c *crypt) sealBody(buf []byte, id verify.Digest) ([]byte, error) {
	if c == nil {
		return buf[nonceSize:], nil
	}
	return seal(c.aead, buf, buf[nonceSize:], id[:])
}

// openBody returns the plain body of stored chunk id's sealed blob body b,
// decrypted in place (b no longer holds the ciphertext after).
func (c *crypt) openBody(b []byte, id verify.Digest) ([]byte, error) {
	if c == nil {
		return b, nil
	}
	return c.open(b, id[:])
}

// sealObject returns plain sealed with aad (a plaintext repository: plain).
func (c *crypt) sealObject(plain []byte, aad string) ([]byte, error) {
	if c == nil {
		return plain, nil
	}
	return seal(c.aead, make([]byte, nonceSize, len(plain)+sealOverhead), plain, []byte(aad))
}

// openObject returns the plain contents of the sealed object b (a
// plaintext repository: b), decrypted in place.
func (c *crypt) openObject(b []byte, aad string) ([]byte, error) {
	if c == nil {
		return b, nil
	}
	return c.open(b, []byte(aad))
}

// open decrypts b, nonce | ciphertext | tag, in place; one that does not
// authenticate is an error matching ErrCorrupt.
func (c *crypt) open(b, aad []byte) ([]byte, error) {
	if len(b) < sealOverhead {
		return nil, fmt.Errorf("%w: %d bytes, too short to be sealed", ErrCorrupt, len(b))
	}
	plain, err := c.aead.Open(b[nonceSize:nonceSize], b[:nonceSize], b[nonceSize:], aad)
	if err != nil {
		return nil, fmt.Errorf("%w: does not authenticate (damaged, or not this repository's)", ErrCorrupt)
	}
	return plain, nil
}
