package server

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/snapsync/snapsync/source"
	"github.com/snapsync/snapsync/verify"
)

// live is the Store of a Server: the catalog of checkpoints it makes and
// leases, whose chunks it reads from its own files (docs/DESIGN.md
// invariant 3).
type live struct{ s *Server }

var (
	_ Store         = live{}
	_ source.Prober = live{}
	_ Snapshot      = (*liveSnapshot)(nil)
)

func (l live) Create(ctx context.Context, minIndex uint64, ttl time.Duration) (Desc, Lease, error) {
	e, ls, reused, err := l.s.create(ctx, minIndex, l.s.leaseTTL(ttl))
	if err != nil {
		return Desc{}, Lease{}, err
	}
	return e.desc(), Lease{ID: ls.id, Expires: ls.expires, Reused: reused, Ordinal: ls.ordinal}, nil
}

// leaseTTL turns a requested TTL into the one granted: the configured
// LeaseTTL for 0, at most MaxLeaseTTL.
func (s *Server) leaseTTL(ttl time.Duration) time.Duration {
	if ttl <= 0 {
		return s.cfg.LeaseTTL
	}
	return min(ttl, s.cfg.MaxLeaseTTL)
}

func (l live) Open(_ context.Context, id verify.Digest) (Snapshot, error) {
	e, err := l.s.catalog.acquire(id, l.s.cfg.Clock.Now())
	if err != nil {
		return nil, err
	}
	return &liveSnapshot{s: l.s, e: e}, nil
}

func (l live) Renew(_ context.Context, id string, ttl time.Duration) (Lease, error) {
	if ttl > 0 { // else keep the lease's own TTL
		ttl = l.s.leaseTTL(ttl)
	}
	ls, err := l.s.catalog.renew(id, nil, ttl, l.s.cfg.Clock.Now())
	if err != nil {
		return Lease{}, err
	}
	return Lease{ID: ls.id, Expires: ls.expires}, nil
}

func (l live) Release(_ context.Context, id string) error {
	l.s.removeTrees(l.s.catalog.release(id, l.s.cfg.Clock.Now()))
	return nil
}

// Newest is the newest checkpoint of the catalog or what the source reports
// (a source.Prober), whichever is higher.
func (l live) Newest(ctx context.Context) (source.Newest, error) { return l.s.probe(ctx) }

// liveSnapshot is a checkpoint of the catalog, held by one call.
type liveSnapshot struct {
	s *Server
	e *entry
}

func (e *entry) desc() Desc { return Desc{ID: e.id, Shape: e.lay, ManifestSize: e.lay.encSize} }

func (ls *liveSnapshot) Desc() Desc { return ls.e.desc() }

// OpenManifest reads the encoding the server built and keeps on disk
// (ID.manifest), checked against the ID as it is read: damage on disk fails
// the last Read with ErrDataLoss.
func (ls *liveSnapshot) OpenManifest(context.Context) (io.ReadCloser, error) {
	f, err := os.Open(ls.s.catalog.manifestPath(ls.e.id))
	if err != nil {
		return nil, fmt.Errorf("%w: open manifest: %w", ErrDataLoss, err)
	}
	return newCheckedReader(f, ls.e.id, ls.e.lay.encSize), nil
}

func (ls *liveSnapshot) Close() { ls.s.removeTrees(ls.s.catalog.finish(ls.e, ls.s.cfg.Clock.Now())) }
