package server

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"
)

// leaseIDLen is the length of a lease ID: 16 random bytes in hex.
const leaseIDLen = 32

// lease holds a checkpoint until it expires or is released.
type lease struct {
	id      string
	ent     *entry
	ttl     time.Duration
	expires time.Time
	ordinal uint32 // 1 + the leases granted on ent before it (Lease.Ordinal)
	// persisted is the expiry ent's state file holds for it (renew).
	persisted time.Time
}

func newLeaseID() string {
	var b [leaseIDLen / 2]byte
	rand.Read(b[:]) // never fails (crypto/rand panics rather than return an error)
	return hex.EncodeToString(b[:])
}

// grantLocked adds a new lease on e and persists e's state.
func (c *catalog) grantLocked(e *entry, ttl time.Duration, now time.Time) (*lease, error) {
	e.granted++
	l := &lease{id: newLeaseID(), ent: e, ttl: ttl, expires: now.Add(ttl), ordinal: e.granted}
	e.leases[l.id] = l
	c.leases[l.id] = l
	if err := c.writeState(e); err != nil {
		delete(e.leases, l.id)
		delete(c.leases, l.id)
		return nil, err
	}
	return l, nil
}

// renew extends the unexpired lease id by ttl (0: its own TTL) from now. If
// want is not nil the lease must hold it. The new expiry is written to the
// state file only when the one written there would keep the lease for less
// than half its TTL from now (or the TTL changes): every FetchChunks call
// renews its lease, and a follower taking chunks from its peers makes a
// call every 8 MiB, so writing (and fsyncing, under the catalog's lock) each
// renewal cost the leader more CPU than the calls' other work. After a
// restart a lease can so end up to half its TTL sooner than its last renewal
// said, and still outlives the client's next renewal (at a third of it).
func (c *catalog) renew(id string, want *entry, ttl time.Duration, now time.Time) (lease, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.leases[id]
	if !ok || !now.Before(l.expires) {
		return lease{}, fmt.Errorf("%w %.12s", ErrUnknownLease, id)
	}
	if want != nil && l.ent != want {
		return lease{}, fmt.Errorf("%w: lease %.12s holds snapshot %s, not %s", ErrBadRequest, id, l.ent.id.Short(), want.id.Short())
	}
	changed := ttl > 0 && ttl != l.ttl
	if ttl > 0 {
		l.ttl = ttl
	}
	l.expires = now.Add(l.ttl)
	if changed || l.persisted.Before(now.Add(l.ttl/2)) {
		if err := c.writeState(l.ent); err != nil {
			return lease{}, err
		}
	}
	return *l, nil
}

// release gives lease id back; a lease already gone is not an error. It
// returns the tree to remove if nothing holds its checkpoint any more.
func (c *catalog) release(id string, now time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	l, ok := c.leases[id]
	if !ok {
		return nil
	}
	delete(c.leases, id)
	delete(l.ent.leases, id)
	if len(l.ent.leases) > 0 || l.ent.active > 0 {
		c.writeStateLogged(l.ent)
	}
	return c.collectLocked(l.ent, now)
}
