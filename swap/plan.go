package swap

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/snapsync/snapsync/internal/durable"
)

// plan is what a replace of either kind (Replace, ReplaceSet) holds while it
// runs: its options, its root, its journal's path, the record it writes
// there and the same record resolved to absolute paths.
type plan struct {
	o           Options
	fs          durable.FS
	root        string
	journalPath string
	rec         journalRecord
	j           Journal
}

// mover is what differs between the kinds of replace once planned: how the
// trees move, and which directories that move changed.
type mover interface {
	move(ctx context.Context) error
	movedDirs() []string
}

// locate returns staged and the journal path relative to the root, refusing
// a path outside it, and keeps the journal's absolute path.
func (p *plan) locate(staged, journalPath string) (stagedRel, journalRel string, err error) {
	if stagedRel, err = p.rel("staged", staged); err != nil {
		return "", "", err
	}
	if journalRel, err = p.rel("journal", journalPath); err != nil {
		return "", "", err
	}
	p.journalPath = filepath.Join(p.root, filepath.FromSlash(journalRel))
	return stagedRel, journalRel, nil
}

// rel returns path relative to the root, slash-separated, refusing a path
// outside it.
func (p *plan) rel(what, path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	rel, err := filepath.Rel(p.root, abs)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%w: %s %s is not below %s", ErrBadLayout, what, abs, p.root)
	}
	return filepath.ToSlash(rel), nil
}

// stagedDir returns the identity of the directory at staged, refusing
// anything else.
func (p *plan) stagedDir(staged string) (FileID, error) {
	info, ok, err := lstatInfo(p.fs, staged)
	switch {
	case err != nil:
		return FileID{}, fmt.Errorf("staged: %w", err)
	case !ok || !info.Mode.IsDir():
		return FileID{}, fmt.Errorf("%w: staged %s is not a directory", ErrBadLayout, staged)
	}
	return info.ID, nil
}

// refusePending reports ErrPending when a journal is already at the journal
// path: an earlier replace was interrupted and Recover has not run.
func (p *plan) refusePending() error {
	if _, ok, err := lstatInfo(p.fs, p.journalPath); err != nil {
		return fmt.Errorf("journal: %w", err)
	} else if ok {
		return fmt.Errorf("%w: %s", ErrPending, p.journalPath)
	}
	return nil
}

// usePair switches the record to the journaled pair, whose old path must be
// free.
func (p *plan) usePair() error {
	old := filepath.Join(p.root, filepath.FromSlash(p.rec.usePair()))
	if _, ok, err := lstatInfo(p.fs, old); err != nil {
		return fmt.Errorf("old path: %w", err)
	} else if ok {
		return fmt.Errorf("%w: old path %s exists", ErrBadLayout, old)
	}
	return nil
}

// resolve checks the planned record against the layout rules (a failure is
// ErrBadLayout) and resolves it to absolute paths.
func (p *plan) resolve() error {
	if err := p.rec.validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrBadLayout, err)
	}
	p.j = p.rec.toJournal(p.root)
	p.j.path = p.journalPath
	return nil
}

// run writes the journal, moves the trees between the hooks before-swap and
// after-swap, then finishes. Every error wraps ErrInterrupted: once the
// journal may be on disk, only Recover may undo anything.
func (p *plan) run(ctx context.Context, m mover) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrInterrupted, err)
		}
	}()
	if err := p.writeJournal(); err != nil {
		return err
	}
	if err := p.o.hook("before-swap"); err != nil {
		return err
	}
	if ctx.Err() != nil {
		return context.Cause(ctx)
	}
	if err := m.move(ctx); err != nil {
		return err
	}
	if err := p.o.hook("after-swap"); err != nil {
		return err
	}
	return finish(p.o, p.j.path, m.movedDirs(), "before-cleanup", "after-cleanup")
}

// switchToPair moves a planned exchange to the journaled pair and rewrites
// the journal, when the exchange turned out unsupported (before anything
// moved).
func (p *plan) switchToPair() error {
	if err := p.usePair(); err != nil {
		return err
	}
	if err := p.resolve(); err != nil {
		return err
	}
	return p.writeJournal()
}

// writeJournal installs the record at the journal path atomically and
// durably (durable.WriteFile).
func (p *plan) writeJournal() error {
	b, err := p.rec.encode()
	if err != nil {
		return err
	}
	if err := durable.WriteFile(p.fs, p.journalPath, b, 0o600); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return nil
}

// finish fsyncs dirs, the directories whose entries moved, then removes the
// journal and fsyncs its directory, calling the hooks named before and after
// that removal (Replace, ReplaceSet and Recover alike).
func finish(o Options, journalPath string, dirs []string, before, after string) error {
	for _, d := range dirs {
		if err := o.FS.SyncDir(d); err != nil {
			return err
		}
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
