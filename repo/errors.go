package repo

import (
	"errors"
	"fmt"
	"time"

	"github.com/snapsync/snapsync/verify"
)

// Sentinel errors; match them with errors.Is.
var (
	// ErrNotFound reports an absent object. Backends return it (wrapped).
	ErrNotFound = errors.New("repo: not found")
	// ErrCorrupt reports stored data that does not verify.
	ErrCorrupt = errors.New("repo: corrupt")
	// ErrVersion reports a repository of a format this build does not read.
	ErrVersion = errors.New("repo: unknown repository format version")
	// ErrLocked reports a lock that conflicts: a prune beside a backup.
	ErrLocked = errors.New("repo: locked")
	// ErrBadKey reports a key a backend refuses.
	ErrBadKey = errors.New("repo: bad key")
	// ErrNoRepository reports a location that holds no repository.
	ErrNoRepository = errors.New("repo: no repository")
)

// NoRepositoryError reports a location that holds no repository: a
// directory that does not exist, or no config object. It matches
// ErrNoRepository.
type NoRepositoryError struct {
	Reason string // why: "/backups/om does not exist", "no config object"
}

func (e *NoRepositoryError) Error() string { return "repo: no repository: " + e.Reason }

// Unwrap makes errors.Is(err, ErrNoRepository) hold.
func (e *NoRepositoryError) Unwrap() error { return ErrNoRepository }

// ChunkError reports a stored chunk that does not verify: bytes that do not
// decode to its length, or whose SHA-256 is not its digest. It matches
// ErrCorrupt.
type ChunkError struct {
	Digest verify.Digest // what the chunk should hash to
	Got    verify.Digest // what it hashed to; zero if it did not decode
	Reason string        // why it did not decode; empty for a mismatch
}

func (e *ChunkError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("repo: chunk %s: %s", e.Digest, e.Reason)
	}
	return fmt.Sprintf("repo: chunk %s: digest mismatch (got %s)", e.Digest, e.Got)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *ChunkError) Unwrap() error { return ErrCorrupt }

// NotRegularError reports an object whose file in a directory repository is
// no regular file: a symlink, a FIFO, a device, a socket or a directory. The
// backend refuses it without reading it. It matches ErrCorrupt: a repository
// holds regular files only.
type NotRegularError struct {
	Key  string // the object's key
	Kind string // what its file is: "a symlink", "a FIFO", …
}

func (e *NotRegularError) Error() string {
	return fmt.Sprintf("repo: %s is %s, not a regular file", e.Key, e.Kind)
}

// Unwrap makes errors.Is(err, ErrCorrupt) hold.
func (e *NotRegularError) Unwrap() error { return ErrCorrupt }

// LockedError reports the lock that conflicts with the one asked for. It
// matches ErrLocked.
type LockedError struct {
	Key  string        // the other lock's key
	Kind string        // "backup" or "prune"
	Age  time.Duration // how long before ours it was last refreshed
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("repo: locked by %s (%s, refreshed %s before ours)", e.Key, e.Kind, e.Age.Round(time.Second))
}

// Unwrap makes errors.Is(err, ErrLocked) hold.
func (e *LockedError) Unwrap() error { return ErrLocked }
