package swap

import (
	"context"
	"fmt"

	"github.com/snapsync/snapsync/internal/durable"
)

// Outcome is what Recover did.
type Outcome int

// The outcomes of Recover.
const (
	// Nothing: there was no journal, so no replace was interrupted.
	Nothing Outcome = iota
	// RolledForward: the new tree is at dest; the old one (if any) at
	// Journal.Old.
	RolledForward
	// RolledBack: the old tree (or nothing, if dest did not exist) is at
	// dest; the staged tree is still at Journal.Staged unless it was lost.
	RolledBack
)

// String returns "nothing", "rolled-forward" or "rolled-back".
func (o Outcome) String() string {
	switch o {
	case Nothing:
		return "nothing"
	case RolledForward:
		return "rolled-forward"
	case RolledBack:
		return "rolled-back"
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// Recover inspects the journal at journalPath, if present, and the identities
// of the trees at dest, staged and the old path, then completes (rolls
// forward) or undoes (rolls back) an interrupted Replace so that dest is
// whole, fsyncs the parents and removes the journal. No journal: Nothing.
// A bad journal (ErrBadJournal) or a disk state the journal cannot explain
// (ErrConflict) is reported and nothing is touched. Recover is idempotent: an
// interrupted Recover is finished by the next one. Call ReadJournal first to
// learn where the trees go.
func Recover(ctx context.Context, journalPath string, o Options) (Outcome, error) {
	o = o.ensureDefaults()
	j, ok, err := ReadJournal(ctx, journalPath, o)
	if err != nil || !ok {
		return Nothing, err
	}
	decideRecovery := decideDir
	if j.Entries != nil {
		decideRecovery = decideSet
	}
	rc, err := decideRecovery(o.FS, j)
	if err != nil {
		return Nothing, err
	}
	if err := o.hook("before-recover"); err != nil {
		return Nothing, err
	}
	if rc.act != nil {
		if err := rc.act(); err != nil {
			return Nothing, fmt.Errorf("recover %s: %w", rc.outcome, err)
		}
	}
	if err := finish(o, j.path, rc.dirs, "before-recover-cleanup", ""); err != nil {
		return Nothing, err
	}
	o.Logger.Info().Str("dest", j.Dest).Str("mode", j.Mode.String()).Int("entries", len(j.Entries)).
		Str("outcome", rc.outcome.String()).Msg("recovered interrupted replace")
	return rc.outcome, nil
}

// recovery is what Recover does, decided by identity before anything is
// touched: the outcome, the moves that reach it, and the directories whose
// entries a swap or those moves changed.
type recovery struct {
	outcome Outcome
	act     func() error // nil: nothing to move
	dirs    []string
}

// decideDir decides the recovery of a Replace: at most one rename.
func decideDir(fsys durable.FS, j Journal) (recovery, error) {
	ob, err := observe(fsys, j)
	if err != nil {
		return recovery{}, err
	}
	act, err := decide(j, ob)
	if err != nil {
		return recovery{}, err
	}
	rc := recovery{outcome: act.outcome, dirs: parentDirs(j)}
	if act.from != "" {
		rc.act = func() error { return fsys.Rename(act.from, act.to) }
	}
	return rc, nil
}

// observed holds the identities found at the journal's paths; zero means
// nothing is there.
type observed struct{ dest, staged, old FileID }

func observe(fsys durable.FS, j Journal) (observed, error) {
	var ob observed
	places := []place{{"dest", j.Dest, &ob.dest}, {"staged", j.Staged, &ob.staged}}
	if j.Mode == ModePair { // else the old path is staged's (exchange) or none (rename)
		places = append(places, place{"old", j.Old, &ob.old})
	}
	return ob, identifyAll(fsys, places...)
}

// action is what Recover does to a Replace: at most one rename, then the
// cleanup.
type action struct {
	outcome  Outcome
	from, to string
}

// decide picks the action by identity, never by name: the tree at dest is
// the new one, the old one, or missing (only between the renames of the
// pair, or when there was no dest); anything else is a conflict.
func decide(j Journal, ob observed) (action, error) {
	switch {
	case ob.dest == j.StagedID:
		return action{outcome: RolledForward}, nil
	case !j.DestID.IsZero() && ob.dest == j.DestID:
		return action{outcome: RolledBack}, nil
	case ob.dest.IsZero() && j.Mode == ModeRename:
		return action{outcome: RolledBack}, nil
	case ob.dest.IsZero() && j.Mode == ModePair && ob.old == j.DestID:
		if ob.staged == j.StagedID {
			return action{outcome: RolledForward, from: j.Staged, to: j.Dest}, nil
		}
		return action{outcome: RolledBack, from: j.Old, to: j.Dest}, nil
	}
	return action{}, fmt.Errorf("%w: mode %s: dest %s is %s, staged %s is %s, old %s is %s (journal: staged %s, dest %s)",
		ErrConflict, j.Mode, j.Dest, idOrMissing(ob.dest), j.Staged, idOrMissing(ob.staged),
		j.Old, idOrMissing(ob.old), j.StagedID, j.DestID)
}

func idOrMissing(id FileID) string {
	if id.IsZero() {
		return "missing"
	}
	return id.String()
}
