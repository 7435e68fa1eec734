package swap

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/snapsync/snapsync/internal/durable"
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
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrInterrupted, err)
		}
	}()
	if err := r.writeJournal(); err != nil {
		return "", err
	}
	if err := r.swapTrees(ctx); err != nil {
		return "", err
	}
	if err := r.finish("before-cleanup", "after-cleanup"); err != nil {
		return "", err
	}
	o.Logger.Info().Str("dest", r.j.Dest).Str("mode", r.j.Mode.String()).Str("old", r.j.Old).Msg("replaced")
	return r.j.Old, nil
}

// swapTrees runs the hooks around the swap of the planned mode, falling back
// from an unsupported exchange to the journaled pair.
func (r *replacement) swapTrees(ctx context.Context) error {
	if err := r.o.hook("before-swap"); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	switch r.j.Mode {
	case ModeExchange:
		err := r.fs.Exchange(r.j.Staged, r.j.Dest)
		if !errors.Is(err, ErrExchangeUnsupported) {
			return r.afterSwap(err)
		}
		r.o.Logger.Info().Err(err).Msg("exchange unsupported: journaled renames")
		if err := r.switchToPair(); err != nil {
			return err
		}
		return r.afterSwap(r.renamePair())
	case ModePair:
		return r.afterSwap(r.renamePair())
	default:
		return r.afterSwap(r.fs.Rename(r.j.Staged, r.j.Dest))
	}
}

func (r *replacement) afterSwap(err error) error {
	if err != nil {
		return err
	}
	return r.o.hook("after-swap")
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

// finish fsyncs the parents of the moved trees, then removes the journal and
// fsyncs its directory, calling the hooks named before and after that removal.
func (r *replacement) finish(before, after string) error {
	return finish(r.o, r.j, r.journalPath, before, after)
}

func finish(o Options, j Journal, journalPath, before, after string) error {
	if err := syncParents(o.FS, j); err != nil {
		return err
	}
	if err := o.hook(before); err != nil {
		return err
	}
	if err := o.FS.Remove(journalPath); err != nil {
		return fmt.Errorf("remove journal: %w", err)
	}
	if err := o.FS.SyncDir(filepath.Dir(journalPath)); err != nil {
		return err
	}
	return o.hook(after)
}

// syncParents fsyncs the directories whose entries a swap changed: dest's
// parent (which also holds the old path of the pair) and staged's parent.
func syncParents(fsys durable.FS, j Journal) error {
	dirs := []string{filepath.Dir(j.Dest)}
	if d := filepath.Dir(j.Staged); d != dirs[0] {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := fsys.SyncDir(d); err != nil {
			return err
		}
	}
	return nil
}
