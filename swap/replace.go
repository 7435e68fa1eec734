package swap

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
)

// Replace makes the tree at staged appear at dest in one atomic step and
// returns where the old tree went: staged's path after an exchange, a sibling
// of dest (".<dest>.swap-old") after the journaled pair, "" when dest did not
// exist. The caller removes or keeps the old tree.
//
// Precondition: staged is complete and fsynced, files and directories (see
// SyncTree). Replace writes the journal at journalPath and fsyncs it before
// the swap is visible, fsyncs the parent directories after it, then removes
// the journal. dest's parent is the root of the replace: staged and the
// journal must lie below it, the journal at most one directory down.
//
// An error wrapping ErrInterrupted means the journal may be on disk: dest
// holds the old or the new tree, whole, and the caller must run Recover
// before anything else. Other errors leave everything as it was.
func Replace(ctx context.Context, dest, staged, journalPath string, o Options) (old string, err error) {
	o = o.ensureDefaults()
	if ctx.Err() != nil {
		return "", context.Cause(ctx)
	}
	r, err := planReplace(o, dest, staged, journalPath)
	if err != nil {
		return "", err
	}
	if err := r.run(ctx, r); err != nil {
		return "", err
	}
	o.Logger.Info().Str("dest", r.j.Dest).Str("mode", r.j.Mode.String()).Str("old", r.j.Old).Msg("replaced")
	return r.j.Old, nil
}

// replacement is one Replace in progress; dirRec is its plan's record.
type replacement struct {
	plan
	dirRec *record
}

var _ mover = (*replacement)(nil)

// planReplace checks the layout and what is on disk, and picks the mode.
func planReplace(o Options, dest, staged, journalPath string) (*replacement, error) {
	dest, err := filepath.Abs(dest)
	if err != nil {
		return nil, fmt.Errorf("dest: %w", err)
	}
	rec := &record{Version: journalVersion, Dest: filepath.Base(dest)}
	r := &replacement{plan: plan{o: o, fs: o.FS, root: filepath.Dir(dest), rec: rec}, dirRec: rec}
	if rec.Staged, rec.Journal, err = r.locate(staged, journalPath); err != nil {
		return nil, err
	}
	if err := r.identify(dest, filepath.Join(r.root, filepath.FromSlash(rec.Staged))); err != nil {
		return nil, err
	}
	if err := r.resolve(); err != nil {
		return nil, err
	}
	return r, nil
}

// identify looks at staged, dest, the journal and the old path, records the
// identities of the trees, and picks the mode.
func (r *replacement) identify(dest, staged string) error {
	stagedID, err := r.stagedDir(staged)
	if err != nil {
		return err
	}
	di, destExists, err := lstatInfo(r.fs, dest)
	switch {
	case err != nil:
		return fmt.Errorf("dest: %w", err)
	case destExists && !di.Mode.IsDir():
		return fmt.Errorf("%w: dest %s is not a directory", ErrBadLayout, dest)
	}
	if err := r.refusePending(); err != nil {
		return err
	}
	r.dirRec.StagedID, r.dirRec.DestID = stagedID, di.ID
	switch {
	case !destExists:
		r.dirRec.Mode = ModeRename.String()
	case r.o.Journaled:
		return r.usePair()
	default:
		r.dirRec.Mode = ModeExchange.String()
	}
	return nil
}

// move swaps the trees in the planned mode, falling back from an unsupported
// exchange to the journaled pair.
func (r *replacement) move(context.Context) error {
	switch r.j.Mode {
	case ModeExchange:
		err := r.fs.Exchange(r.j.Staged, r.j.Dest)
		if !errors.Is(err, ErrExchangeUnsupported) {
			return err
		}
		r.o.Logger.Info().Err(err).Msg("exchange unsupported: journaled renames")
		if err := r.switchToPair(); err != nil {
			return err
		}
		return r.renamePair()
	case ModePair:
		return r.renamePair()
	default:
		return r.fs.Rename(r.j.Staged, r.j.Dest)
	}
}

func (r *replacement) renamePair() error {
	if err := r.fs.Rename(r.j.Dest, r.j.Old); err != nil {
		return err
	}
	if err := r.o.hook("mid-swap"); err != nil {
		return err
	}
	return r.fs.Rename(r.j.Staged, r.j.Dest)
}

func (r *replacement) movedDirs() []string { return parentDirs(r.j) }

// parentDirs returns the directories whose entries a swap of one tree
// changed: dest's parent (which also holds the old path of the pair) and
// staged's parent.
func parentDirs(j Journal) []string {
	dirs := []string{filepath.Dir(j.Dest)}
	if d := filepath.Dir(j.Staged); d != dirs[0] {
		dirs = append(dirs, d)
	}
	return dirs
}
