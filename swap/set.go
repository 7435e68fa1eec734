package swap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/snapsync/snapsync/internal/durable"
)

// ReplaceSet makes the entries names of dir what staged holds under the same
// names, as one unit: each listed entry of dir is replaced by staged's entry
// of that name, added when dir has none, or removed (moved out of dir) when
// staged has none; every other entry of dir is left alone. It returns where
// the old entries went: staged itself after exchanges, a park directory
// beside staged (staged+".swap-old") after the journaled pairs, "" when
// nothing moved. The caller removes or keeps them.
//
// dir is the root of a set replace: staged and the journal must lie below
// it (the staging area inside dir, so every move is a rename on one
// filesystem, whatever is mounted where), the journal at most one directory
// down, and no listed name may hold either. Precondition: staged's entries
// are complete and fsynced (see SyncTree).
//
// ReplaceSet writes the journal (the list, and each entry's old and new
// identity) and fsyncs it before anything moves; then each entry moves in
// turn: an exchange (renameat2 RENAME_EXCHANGE) where both exist, a rename
// where one side is missing, or with Options.Journaled (or where the
// exchange is unsupported) a rename of the old entry into the park directory
// and of the new one into dir. Recover rolls the set forward only when every
// entry is in its new place, and back otherwise, so dir holds the old set or
// the new one, never a mix. An error wrapping ErrInterrupted means the
// journal may be on disk: the caller must run Recover before anything else.
func ReplaceSet(ctx context.Context, dir, staged string, names []string, journalPath string, o Options) (old string, err error) {
	o = o.ensureDefaults()
	if ctx.Err() != nil {
		return "", context.Cause(ctx)
	}
	r, err := planSet(o, dir, staged, names, journalPath)
	if err != nil || r == nil {
		return "", err
	}
	if err := r.run(ctx, r); err != nil {
		return "", err
	}
	o.Logger.Info().Str("dir", r.j.Dest).Str("mode", r.j.Mode.String()).Int("entries", len(r.j.Entries)).
		Str("old", r.j.Old).Msg("replaced set")
	return r.j.Old, nil
}

// setReplacement is one ReplaceSet in progress; setRec is its plan's record.
type setReplacement struct {
	plan
	setRec *setRecord
}

var _ mover = (*setReplacement)(nil)

// planSet checks the layout and what is on disk; nil when no listed name
// exists on either side (nothing to do).
func planSet(o Options, dir, staged string, names []string, journalPath string) (*setReplacement, error) {
	root, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("dir: %w", err)
	}
	rec := &setRecord{Version: setJournalVersion, Mode: ModeExchange.String()}
	r := &setReplacement{plan: plan{o: o, fs: o.FS, root: root, rec: rec}, setRec: rec}
	if rec.Staged, rec.Journal, err = r.locate(staged, journalPath); err != nil {
		return nil, err
	}
	if err := r.identify(names); err != nil {
		return nil, err
	}
	if len(rec.Entries) == 0 {
		return nil, nil
	}
	if o.Journaled {
		if err := r.usePair(); err != nil {
			return nil, err
		}
	}
	if err := r.resolve(); err != nil {
		return nil, err
	}
	return r, nil
}

// identify records each listed entry's identities, those both sides have
// first (so that an unsupported exchange is met before anything moved),
// and refuses a pending journal.
func (r *setReplacement) identify(names []string) error {
	if len(names) == 0 || len(names) > MaxSetEntries {
		return fmt.Errorf("%w: %d names, want 1 to %d", ErrBadLayout, len(names), MaxSetEntries)
	}
	staged := filepath.Join(r.root, filepath.FromSlash(r.setRec.Staged))
	if _, err := r.stagedDir(staged); err != nil {
		return err
	}
	for _, n := range names {
		if strings.ContainsAny(n, `/\`) || !filepath.IsLocal(n) {
			return fmt.Errorf("%w: name %q is not one path component", ErrBadLayout, n)
		}
		e := setEntry{Name: n}
		if err := identifyAll(r.fs, place{"staged", filepath.Join(staged, n), &e.StagedID},
			place{"dest", filepath.Join(r.root, n), &e.DestID}); err != nil {
			return err
		}
		if !e.StagedID.IsZero() || !e.DestID.IsZero() {
			r.setRec.Entries = append(r.setRec.Entries, e)
		}
	}
	slices.SortStableFunc(r.setRec.Entries, func(a, b setEntry) int { return kindOrder(a) - kindOrder(b) })
	return r.refusePending()
}

// kindOrder puts the entries both sides have first, then the added, then the
// removed ones.
func kindOrder(e setEntry) int {
	switch {
	case !e.StagedID.IsZero() && !e.DestID.IsZero():
		return 0
	case !e.StagedID.IsZero():
		return 1
	}
	return 2
}

// move moves every entry in journal order, calling the hook entry-moved
// after each; an exchange found unsupported at the first entry (before
// anything moved) switches the set to the journaled pairs.
func (r *setReplacement) move(ctx context.Context) error {
	if r.j.Mode == ModePair {
		if err := r.makePark(); err != nil {
			return err
		}
	}
	for i, e := range r.j.Entries {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		err := r.moveEntry(e)
		if i == 0 && r.j.Mode == ModeExchange && errors.Is(err, ErrExchangeUnsupported) {
			r.o.Logger.Info().Err(err).Msg("exchange unsupported: journaled renames")
			if err := r.switchToPair(); err != nil {
				return err
			}
			return r.move(ctx)
		}
		if err != nil {
			return err
		}
		if err := r.o.hook("entry-moved"); err != nil {
			return err
		}
	}
	return nil
}

func (r *setReplacement) movedDirs() []string { return setDirs(r.j, true) }

// makePark creates the park directory of the pairs, durably.
func (r *setReplacement) makePark() error {
	m, ok := r.fs.(interface {
		Mkdir(path string, perm fs.FileMode) error
	})
	if !ok {
		return fmt.Errorf("%w: the FS cannot make the park directory", ErrBadLayout)
	}
	if err := m.Mkdir(r.j.Old, 0o700); err != nil {
		return fmt.Errorf("make park directory: %w", err)
	}
	return r.fs.SyncDir(filepath.Dir(r.j.Old))
}

// moveEntry moves one entry from its old place to its new one.
func (r *setReplacement) moveEntry(e Entry) error {
	dest, staged, park := entryPaths(r.j, e.Name)
	switch {
	case e.DestID.IsZero():
		return r.fs.Rename(staged, dest)
	case r.j.Mode == ModeExchange && e.StagedID.IsZero():
		return r.fs.Rename(dest, staged)
	case r.j.Mode == ModeExchange:
		return r.fs.Exchange(staged, dest)
	}
	if err := r.fs.Rename(dest, park); err != nil {
		return err
	}
	if e.StagedID.IsZero() {
		return nil
	}
	if err := r.o.hook("mid-swap"); err != nil {
		return err
	}
	return r.fs.Rename(staged, dest)
}

// entryPaths returns where entry name lives in dir, in staged and in the
// park directory (the old place in the pair mode; staged in the exchange
// mode).
func entryPaths(j Journal, name string) (dest, staged, old string) {
	return filepath.Join(j.Dest, name), filepath.Join(j.Staged, name), filepath.Join(j.Old, name)
}

// setDirs returns the directories whose entries a set's moves changed: dir,
// staged and, in the pair mode while it holds the old entries, the park
// directory.
func setDirs(j Journal, parked bool) []string {
	dirs := []string{j.Dest, j.Staged}
	if j.Mode == ModePair && parked {
		dirs = append(dirs, j.Old)
	}
	return dirs
}

// dropPark removes the park directory of a rolled-back pair, empty again,
// and fsyncs its parent.
func dropPark(fsys durable.FS, j Journal) error {
	if j.Mode != ModePair {
		return nil
	}
	if _, ok, err := lstatInfo(fsys, j.Old); err != nil || !ok {
		return err
	}
	if err := fsys.Remove(j.Old); err != nil {
		return fmt.Errorf("remove park directory: %w", err)
	}
	return fsys.SyncDir(filepath.Dir(j.Old))
}
