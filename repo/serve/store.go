package serve

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/source"
	"github.com/snapsync/snapsync/verify"
)

// leaseTTL is the lease granted when the client asks for none. Leases are
// nominal: the snapshot cannot go away while the caller's lock is held.
const leaseTTL = 2 * time.Minute

// Store holds one committed snapshot of a repository. It keeps the decoded
// manifest, not its encoding: GetManifest streams the manifest object from
// the repository, verified as it goes (repo.OpenManifest).
type Store struct {
	r    *repo.Repo
	info repo.SnapshotInfo
	desc server.Desc
	// problems is what List found out of place.
	problems []repo.Problem
	now      func() time.Time

	lengthsOnce sync.Once
	byDigest    map[verify.Digest]uint32 // lengths
}

var (
	_ server.Store  = (*Store)(nil)
	_ source.Prober = (*Store)(nil)
)

// New returns the store of snapshot id of r, or of the newest when id is
// zero. It reads and verifies the snapshot's manifest; a snapshot that is
// not committed is an error matching repo.ErrNotFound.
func New(ctx context.Context, r *repo.Repo, id verify.Digest) (*Store, error) {
	l, err := r.List(ctx)
	if err != nil {
		return nil, err
	}
	info, err := find(l, id)
	if err != nil && len(l.Problems) > 0 {
		// The snapshot may be one of them, gone astray: say so.
		return nil, fmt.Errorf("%w; the listing holds what is no snapshot: %s", err, repo.Summary(l.Problems))
	}
	if err != nil {
		return nil, err
	}
	m, err := r.Manifest(ctx, info.ID)
	if err != nil {
		return nil, err
	}
	size, err := r.ManifestSize(ctx, info.ID)
	if err != nil {
		return nil, err
	}
	d := server.Desc{ID: info.ID, Manifest: m, ManifestSize: size}
	return &Store{r: r, info: info, desc: d, problems: l.Problems, now: time.Now}, nil
}

// find returns the committed snapshot id of l, or the newest when id is
// zero.
func find(l repo.Listing, id verify.Digest) (repo.SnapshotInfo, error) {
	if id.IsZero() {
		return l.Latest()
	}
	for _, s := range l.Snapshots {
		if s.ID == id {
			return s, nil
		}
	}
	return repo.SnapshotInfo{}, fmt.Errorf("serve: snapshot %s: %w", id, repo.ErrNotFound)
}

// Problems returns what the repository's listing held that is no snapshot,
// for the caller to report.
func (s *Store) Problems() []repo.Problem { return s.problems }

// Info describes the snapshot served.
func (s *Store) Info() repo.SnapshotInfo { return s.info }

// HTTPHandler returns the SnapshotService serving s (server.StoreHandler).
func (s *Store) HTTPHandler() http.Handler { return server.StoreHandler(s, zerolog.Nop()) }

// Create grants a nominal lease on the snapshot served, if it reflects at
// least minIndex.
func (s *Store) Create(_ context.Context, minIndex uint64, ttl time.Duration) (server.Desc, server.Lease, error) {
	if index := s.desc.Manifest.Meta.Index; minIndex > index {
		return server.Desc{}, server.Lease{}, fmt.Errorf("serve: snapshot %s: %w", s.desc.ID.Short(),
			&source.MinIndexError{Newest: index, Known: true, Want: minIndex})
	}
	return s.desc, s.lease(newLeaseID(), ttl), nil
}

// Open returns the snapshot served; any other is server.ErrUnknownSnapshot.
func (s *Store) Open(_ context.Context, id verify.Digest) (server.Snapshot, error) {
	if id != s.desc.ID {
		return nil, fmt.Errorf("%w %s: not the one served", server.ErrUnknownSnapshot, id.Short())
	}
	return snapshot{s}, nil
}

// Renew grants lease id anew, whatever it is: leases are nominal.
func (s *Store) Renew(_ context.Context, id string, ttl time.Duration) (server.Lease, error) {
	return s.lease(id, ttl), nil
}

// Release has nothing to give back.
func (s *Store) Release(context.Context, string) error { return nil }

// Newest is the snapshot served; no other can be made.
func (s *Store) Newest(context.Context) (source.Newest, error) {
	m := s.desc.Manifest.Meta
	return source.Newest{Term: m.Term, Index: m.Index, Engine: m.Engine}, nil
}

// lease is lease id for ttl (leaseTTL for 0) from now.
func (s *Store) lease(id string, ttl time.Duration) server.Lease {
	if ttl <= 0 {
		ttl = leaseTTL
	}
	return server.Lease{ID: id, Expires: s.now().Add(ttl)}
}

func newLeaseID() string {
	var b [12]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b[:])
}
