package source

import (
	"context"
	"errors"
	"fmt"

	"github.com/snapsync/snapsync/verify"
)

// Sentinel errors of every source; match them with errors.Is.
var (
	// ErrBadSource reports a source that cannot be opened or used: a missing
	// directory, a DB that will not open, an invalid configuration.
	ErrBadSource = errors.New("source: bad source")
	// ErrMinIndex reports that no checkpoint the source can give reaches the
	// index asked for.
	ErrMinIndex = errors.New("source: checkpoint does not reach the requested index")
	// ErrNoMaker reports that no checkpoint reaches the index asked for and
	// nothing can make one: no node watches for checkpoint requests and no
	// checkpoint command is configured.
	ErrNoMaker = errors.New("source: no checkpoint maker")
	// ErrMakeTimeout reports that the node asked for a checkpoint did not
	// register one reaching the index in time.
	ErrMakeTimeout = errors.New("source: no checkpoint registered in time")
)

// MinIndexError is an ErrMinIndex that says how far the source's newest
// checkpoint reaches. Match it with errors.As.
type MinIndexError struct {
	// Newest is the index of the newest checkpoint; meaningful when Known.
	Newest uint64
	Known  bool
	// Want is the index asked for.
	Want uint64
}

func (e *MinIndexError) Error() string {
	if !e.Known {
		return fmt.Sprintf("%v: no checkpoint yet, want at least %d", ErrMinIndex, e.Want)
	}
	return fmt.Sprintf("%v: newest checkpoint has index %d, want at least %d", ErrMinIndex, e.Newest, e.Want)
}

// Is makes errors.Is(err, ErrMinIndex) true.
func (e *MinIndexError) Is(target error) bool { return target == ErrMinIndex }

// Checkpoint is a consistent, immutable directory tree and what it reflects.
type Checkpoint struct {
	// Dir is the root of the tree.
	Dir string
	// Meta is the term, index, engine and labels it reflects; the source sets
	// CreatedUnixNano.
	Meta verify.Meta
	// Owned is true when the source made the tree at the directory the
	// server named, so the server removes it once no lease holds it; false
	// for a tree someone else owns, which the server never deletes.
	Owned bool
}

// Source yields checkpoints.
type Source interface {
	// Checkpoint returns a checkpoint reflecting at least minIndex where the
	// source can tell (else an error wrapping ErrMinIndex); an owned one is
	// created at dir, which does not exist yet (its parent does).
	Checkpoint(ctx context.Context, dir string, minIndex uint64) (Checkpoint, error)
	// Close releases what the source holds (e.g. the DB it opened).
	Close() error
}

// Newest is what a source could give now, as told by a Prober.
type Newest struct {
	// Term and Index are what a checkpoint would reflect (0 when not known).
	Term, Index uint64
	// Engine is the database engine (empty when not known).
	Engine string
	// OnDemand is true when the source makes a fresh checkpoint for each
	// request, so Index is where the database stands now.
	OnDemand bool
}

// Prober is a Source that can tell what it could give without making a
// checkpoint or changing anything.
type Prober interface {
	// Newest reports the newest checkpoint the source could give now.
	Newest(ctx context.Context) (Newest, error)
}
