package swap

import (
	"fmt"

	"github.com/snapsync/snapsync/internal/durable"
)

// entryState is where one entry of a set stands, by identity.
type entryState int

const (
	entryOld entryState = iota // the old entry (or none) is in dir
	entryNew                   // the new entry (or none) is in dir
	entryMid                   // pair only: old parked, new still staged, dir has none
)

// entrySeen holds the identities found at an entry's three places.
type entrySeen struct{ dest, staged, old FileID }

// decideSet decides the recovery of a ReplaceSet: forward when every entry
// is in its new place, else back, entry by entry, then the park directory of
// the pairs removed.
func decideSet(fsys durable.FS, j Journal) (recovery, error) {
	seen := make([]entrySeen, len(j.Entries))
	states := make([]entryState, len(j.Entries))
	forward := true
	for i, e := range j.Entries {
		var err error
		if seen[i], err = observeEntry(fsys, j, e.Name); err != nil {
			return recovery{}, err
		}
		if states[i], err = entryStateOf(j, e, seen[i]); err != nil {
			return recovery{}, err
		}
		forward = forward && states[i] == entryNew
	}
	if forward {
		return recovery{outcome: RolledForward, dirs: setDirs(j, true)}, nil
	}
	undo := func() error {
		for i, e := range j.Entries {
			if err := undoEntry(fsys, j, e, states[i], seen[i]); err != nil {
				return fmt.Errorf("%s: %w", e.Name, err)
			}
		}
		return dropPark(fsys, j)
	}
	return recovery{outcome: RolledBack, act: undo, dirs: setDirs(j, false)}, nil
}

func observeEntry(fsys durable.FS, j Journal, name string) (entrySeen, error) {
	var s entrySeen
	dest, staged, old := entryPaths(j, name)
	if err := identifyAll(fsys, place{"dest", dest, &s.dest}, place{"staged", staged, &s.staged}); err != nil {
		return s, err
	}
	if old == staged { // the exchange mode parks in staged
		s.old = s.staged
		return s, nil
	}
	return s, identifyAll(fsys, place{"old", old, &s.old})
}

// entryStateOf tells, by identity, where entry e stands; a state no move of
// ReplaceSet or of its recovery passes through is a conflict.
func entryStateOf(j Journal, e Entry, s entrySeen) (entryState, error) {
	added, removed := e.DestID.IsZero(), e.StagedID.IsZero()
	switch {
	case !removed && s.dest == e.StagedID:
		return entryNew, nil
	case !added && s.dest == e.DestID:
		return entryOld, nil
	case !s.dest.IsZero():
	case added && s.staged == e.StagedID:
		return entryOld, nil
	case removed && s.old == e.DestID:
		return entryNew, nil
	case j.Mode == ModePair && s.old == e.DestID && s.staged == e.StagedID:
		return entryMid, nil
	}
	return 0, fmt.Errorf("%w: entry %s: dir has %s, staged %s, old %s (journal: new %s, old %s)",
		ErrConflict, e.Name, idOrMissing(s.dest), idOrMissing(s.staged), idOrMissing(s.old),
		idOrMissing(e.StagedID), idOrMissing(e.DestID))
}

// undoEntry moves an entry back to its old place: the new entry (if any)
// back to staged, the old one (if any) back into dir.
func undoEntry(fsys durable.FS, j Journal, e Entry, st entryState, s entrySeen) error {
	dest, staged, old := entryPaths(j, e.Name)
	if st == entryOld {
		return nil
	}
	if st == entryNew && j.Mode == ModeExchange && !e.StagedID.IsZero() && !e.DestID.IsZero() {
		if s.staged != e.DestID {
			return fmt.Errorf("%w: the old entry is not at %s", ErrConflict, staged)
		}
		return fsys.Exchange(staged, dest)
	}
	if st == entryNew && !e.StagedID.IsZero() {
		if err := fsys.Rename(dest, staged); err != nil {
			return err
		}
	}
	if e.DestID.IsZero() {
		return nil
	}
	return fsys.Rename(old, dest)
}
