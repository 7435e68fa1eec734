package repo

import (
	"context"
	"fmt"
	"io"

	"github.com/snapsync/snapsync/verify"
)

// PutManifest stores m in its canonical encoding under its snapshot ID and
// returns the ID. Store the manifest after every chunk it names, and Commit
// after the manifest: an interrupted backup then leaves nothing listed.
func (r *Repo) PutManifest(ctx context.Context, m *verify.Manifest) (verify.Digest, error) {
	b, err := m.Encode()
	if err != nil {
		return verify.Digest{}, fmt.Errorf("repo: encode manifest: %w", err)
	}
	id := verify.Sum(b)
	if err := r.putBytes(ctx, ManifestKey(id), b); err != nil {
		return verify.Digest{}, fmt.Errorf("repo: manifest %s: %w", id, err)
	}
	return id, nil
}

// Manifest returns the manifest of snapshot id, verified against the ID and
// decoded with the verify package's bounds (at most verify.MaxManifestSize,
// every count checked before it is allocated). A manifest that does not
// verify is an error matching ErrCorrupt.
func (r *Repo) Manifest(ctx context.Context, id verify.Digest) (*verify.Manifest, error) {
	key := ManifestKey(id)
	size, _, err := r.b.Stat(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("repo: manifest %s: %w", id, err)
	}
	if size > verify.MaxManifestSize {
		return nil, fmt.Errorf("repo: manifest %s: %w: %d bytes over the limit", id, ErrCorrupt, size)
	}
	rc, err := r.b.Get(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("repo: manifest %s: %w", id, err)
	}
	defer rc.Close()
	// The object may change between Stat and Get: read at most size bytes
	// plus one, and let the digest decide.
	b, err := io.ReadAll(io.LimitReader(rc, size+1))
	if err != nil {
		return nil, fmt.Errorf("repo: manifest %s: read: %w", id, err)
	}
	m, err := verify.DecodeVerified(id, b)
	if err != nil {
		return nil, fmt.Errorf("repo: manifest %s: %w: %w", id, ErrCorrupt, err)
	}
	return m, nil
}
