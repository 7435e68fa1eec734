package repo

import (
	"context"
	"crypto/sha256"
	"fmt"
	"hash"
	"io"

	"github.com/snapsync/snapsync/verify"
)

// PutManifest stores m in its canonical encoding under its snapshot ID (an
// encrypted repository: sealed in segments, under the ID's keyed name) and
// returns the ID. Store the manifest after every chunk it names, and Commit
// after the manifest: an interrupted backup then leaves nothing listed.
func (r *Repo) PutManifest(ctx context.Context, m *verify.Manifest) (verify.Digest, error) {
	b, err := m.Encode()
	if err != nil {
		return verify.Digest{}, fmt.Errorf("repo: encode manifest: %w", err)
	}
	id := verify.Sum(b)
	key := r.manifestKey(id)
	if r.crypt != nil {
		if b, err = r.crypt.sealStream(b, key); err != nil {
			return verify.Digest{}, fmt.Errorf("repo: manifest %s: %w", id, err)
		}
	}
	if err := r.putBytes(ctx, key, b); err != nil {
		return verify.Digest{}, fmt.Errorf("repo: manifest %s: %w", id, err)
	}
	return id, nil
}

// A manifest is never read whole into memory: a repository is re-readable,
// so Manifest reads the object twice as a stream, first hashing it (nothing
// is kept, nothing is decoded unless the digest is the snapshot ID), then
// decoding it with verify's bounded buffers while hashing it again (the
// object may have been replaced in between). What it holds is the decoded
// manifest, whose size verify's limits bound, as a peer's. Unlike the peer
// path it spools nothing: a read-only command writes nowhere, not even to a
// temporary directory that may be memory (tmpfs).

// Manifest returns the manifest of snapshot id, verified against the ID and
// decoded with the verify package's bounds (at most verify.MaxManifestSize,
// every count checked before it is allocated). A manifest that does not
// verify is an error matching ErrCorrupt; so is an object of another kind
// than a regular file (*NotRegularError).
func (r *Repo) Manifest(ctx context.Context, id verify.Digest) (*verify.Manifest, error) {
	rc, err := r.openManifest(ctx, id)
	if err != nil {
		return nil, err
	}
	_, err = io.Copy(io.Discard, rc)
	rc.Close() // read-only; its error, if any, was Copy's
	if err != nil {
		return nil, err
	}
	if rc, err = r.openManifest(ctx, id); err != nil {
		return nil, err
	}
	defer rc.Close()
	m, err := verify.DecodeReader(rc, rc.size)
	if rerr := rc.err; rerr != nil && rerr != io.EOF {
		return nil, rerr // the object's fault, not the decoder's: say so
	}
	if err != nil {
		return nil, fmt.Errorf("repo: manifest %s: %w: %w", id, ErrCorrupt, err)
	}
	return m, nil
}

// OpenManifest opens the manifest object of snapshot id as a stream of its
// size bytes, which it returns too. An object over verify.MaxManifestSize
// is refused from its size before anything is read. The stream is hashed as
// it is read: the Read that would deliver its last bytes returns instead an
// error matching ErrCorrupt if they do not hash to id, or if the object turns
// out longer or shorter than its size (it changed since). The bytes before
// are not verified until then.
func (r *Repo) OpenManifest(ctx context.Context, id verify.Digest) (io.ReadCloser, int64, error) {
	m, err := r.openManifest(ctx, id)
	if err != nil {
		return nil, 0, err
	}
	return m, m.size, nil
}

func (r *Repo) openManifest(ctx context.Context, id verify.Digest) (*manifestReader, error) {
	stored, size, err := r.manifestSizes(ctx, id)
	if err != nil {
		return nil, err
	}
	key := r.manifestKey(id)
	rc, err := r.b.Get(ctx, key)
	if err == nil && r.crypt != nil {
		if rc, err = r.crypt.openStream(rc, stored, key); err != nil {
			rc.Close() // read-only
		}
	}
	if err != nil {
		return nil, fmt.Errorf("repo: manifest %s: %w", id, err)
	}
	return &manifestReader{id: id, rc: rc, h: sha256.New(), size: size, left: size}, nil
}

// ManifestSize returns the size of the manifest of snapshot id (the
// plaintext's, in an encrypted repository), without reading it; one over
// verify.MaxManifestSize is an error matching ErrCorrupt.
func (r *Repo) ManifestSize(ctx context.Context, id verify.Digest) (int64, error) {
	_, size, err := r.manifestSizes(ctx, id)
	return size, err
}

// manifestSizes returns the size of the manifest object of snapshot id and
// that of the manifest it holds.
func (r *Repo) manifestSizes(ctx context.Context, id verify.Digest) (stored, size int64, err error) {
	stored, _, err = r.b.Stat(ctx, r.manifestKey(id))
	if err != nil {
		return 0, 0, fmt.Errorf("repo: manifest %s: %w", id, err)
	}
	size = stored
	if r.crypt != nil {
		if size, err = streamPlainSize(stored); err != nil {
			return 0, 0, fmt.Errorf("repo: manifest %s: %w", id, err)
		}
	}
	if size > verify.MaxManifestSize {
		return 0, 0, fmt.Errorf("repo: manifest %s: %w: %d bytes, over the limit %d", id, ErrCorrupt, size, int64(verify.MaxManifestSize))
	}
	return stored, size, nil
}

// manifestReader reads exactly size bytes of a manifest object, hashing
// them, and checks the digest before it delivers the last ones.
type manifestReader struct {
	id   verify.Digest
	rc   io.ReadCloser
	h    hash.Hash
	size int64
	left int64 // bytes still to deliver
	err  error // sticky: io.EOF once all is delivered and verified
}

func (m *manifestReader) Read(p []byte) (int, error) {
	if m.err != nil {
		return 0, m.err
	}
	if m.left == 0 {
		if m.err = m.finish(); m.err == nil {
			m.err = io.EOF
		}
		return 0, m.err
	}
	if int64(len(p)) > m.left {
		p = p[:m.left]
	}
	n, err := m.rc.Read(p)
	m.h.Write(p[:n]) // a hash never fails
	m.left -= int64(n)
	switch {
	case m.left == 0:
		if m.err = m.finish(); m.err != nil {
			return 0, m.err // the last bytes of a manifest that does not verify are not delivered
		}
		m.err = io.EOF
		return n, nil
	case err == io.EOF:
		m.err = fmt.Errorf("repo: manifest %s: %w: object ended at %d of its %d bytes", m.id, ErrCorrupt, m.size-m.left, m.size)
		return 0, m.err
	case err != nil:
		m.err = fmt.Errorf("repo: manifest %s: read: %w", m.id, err)
		return n, m.err
	}
	return n, nil
}

// finish checks, once size bytes are in, that the object ends there and
// that they hash to the snapshot ID.
func (m *manifestReader) finish() error {
	var one [1]byte
	n, err := io.ReadFull(m.rc, one[:])
	switch {
	case n > 0:
		return fmt.Errorf("repo: manifest %s: %w: object longer than its %d bytes", m.id, ErrCorrupt, m.size)
	case err != io.EOF:
		return fmt.Errorf("repo: manifest %s: read: %w", m.id, err)
	}
	if err := verify.CheckDigest("manifest", m.id, verify.Digest(m.h.Sum(nil))); err != nil {
		return fmt.Errorf("repo: manifest %s: %w: %w", m.id, ErrCorrupt, err)
	}
	return nil
}

func (m *manifestReader) Close() error { return m.rc.Close() }
