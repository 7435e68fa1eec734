package repo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"
)

// Backups and prunes exclude each other with lock objects, locks/<kind>-<random>:
// a backup holds a shared lock ("backup") from before its first HasChunk or
// PutChunk until after its Commit, and Prune holds an exclusive one
// ("prune") for its whole run. Each side writes its own lock first and then
// lists the others; if it finds a fresh lock that conflicts, it removes its
// own and fails with ErrLocked. Since S3 (and a directory) list what was
// written before, of a backup and a prune that start together at least one
// sees the other, so a prune never deletes a chunk that a running backup has
// found present or uploaded but not yet committed.
//
// We chose locks over a grace period on chunk modification times because a
// grace period holds only for backups shorter than the grace, and a backup
// of a few TiB can run for hours; a lock holds however long the backup runs.
// A killed holder's lock goes stale: a lock counts while it was refreshed
// less than Options.StaleLock before ours, comparing the backend's own
// modification times, so no two machines' clocks are compared. A holder
// refreshes its lock every Options.RefreshLock; one that could not refresh
// for StaleLock fails its next Check instead of carrying on unprotected.

// Lock kinds.
const (
	lockBackup = "backup"
	lockPrune  = "prune"
)

// Lock is a lock object held on a repository, refreshed in the background
// until Unlock.
type Lock struct {
	r    *Repo
	key  string
	body []byte
	stop context.CancelFunc
	done chan struct{}

	mu        sync.Mutex
	refreshed time.Time // when the last refresh was sent (our clock)
	err       error     // the last refresh error
}

// lockBody is what a lock object holds, for people who look.
type lockBody struct {
	Kind    string    `json:"kind"`
	Host    string    `json:"host"`
	PID     int       `json:"pid"`
	Created time.Time `json:"created"`
}

// Lock takes the shared lock a backup holds while it uploads and commits.
// It fails with ErrLocked while a prune runs.
func (r *Repo) Lock(ctx context.Context) (*Lock, error) { return r.lock(ctx, lockBackup) }

func (r *Repo) lock(ctx context.Context, kind string) (*Lock, error) {
	var rnd [12]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, err
	}
	host, _ := os.Hostname() // an empty host name only makes the lock less informative
	body, err := json.Marshal(lockBody{Kind: kind, Host: host, PID: os.Getpid(), Created: r.opts.Now().UTC()})
	if err != nil {
		return nil, err
	}
	l := &Lock{r: r, key: lockPrefix + kind + "-" + hex.EncodeToString(rnd[:]), body: body, refreshed: r.opts.Now()}
	if err := r.putBytes(ctx, l.key, body); err != nil {
		return nil, fmt.Errorf("repo: lock: %w", err)
	}
	if err := l.conflicts(ctx, kind); err != nil {
		return nil, errors.Join(err, l.remove(ctx))
	}
	// What another process indexed before the lock is read again: a
	// prune may have repacked, a backup added.
	r.idx.invalidate()
	hb, stop := context.WithCancel(context.WithoutCancel(ctx))
	l.stop, l.done = stop, make(chan struct{})
	go l.heartbeat(hb)
	return l, nil
}

// conflicts returns a *LockedError for a fresh lock that excludes ours.
func (l *Lock) conflicts(ctx context.Context, kind string) error {
	_, ours, err := l.r.b.Stat(ctx, l.key)
	if err != nil {
		return fmt.Errorf("repo: lock: %w", err)
	}
	for key, err := range l.r.b.List(ctx, lockPrefix) {
		if err != nil {
			return fmt.Errorf("repo: list locks: %w", err)
		}
		other, _, _ := strings.Cut(strings.TrimPrefix(key, lockPrefix), "-")
		if key == l.key || (kind == lockBackup && other == lockBackup) {
			continue
		}
		_, mod, err := l.r.b.Stat(ctx, key)
		if errors.Is(err, ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return fmt.Errorf("repo: lock %s: %w", key, err)
		}
		if age := ours.Sub(mod); age < l.r.opts.StaleLock {
			return &LockedError{Key: key, Kind: other, Age: age}
		}
	}
	return nil
}

// heartbeat rewrites the lock object every RefreshLock until stopped.
func (l *Lock) heartbeat(ctx context.Context) {
	defer close(l.done)
	t := time.NewTicker(l.r.opts.RefreshLock)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		sent := l.r.opts.Now()
		err := l.r.putBytes(ctx, l.key, l.body)
		l.mu.Lock()
		if err == nil {
			l.refreshed = sent
		}
		l.err = err
		l.mu.Unlock()
	}
}

// Check reports whether the lock still protects its holder: it fails once
// no refresh has succeeded for StaleLock less a refresh interval, since
// others may then take it for stale.
func (l *Lock) Check() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if age := l.r.opts.Now().Sub(l.refreshed); age >= l.r.opts.StaleLock-l.r.opts.RefreshLock {
		return fmt.Errorf("repo: lock %s lost: not refreshed for %s: %w", l.key, age.Round(time.Second), errors.Join(ErrLocked, l.err))
	}
	return nil
}

// Unlock stops the refreshes and removes the lock object.
func (l *Lock) Unlock(ctx context.Context) error {
	l.stop()
	<-l.done
	return l.remove(ctx)
}

func (l *Lock) remove(ctx context.Context) error {
	if err := l.r.b.Delete(ctx, l.key); err != nil {
		return fmt.Errorf("repo: unlock %s: %w", l.key, err)
	}
	return nil
}
