package swap

import (
	"fmt"
	"path/filepath"

	"github.com/snapsync/snapsync/internal/durable"
)

// replacement is one Replace in progress: its options, its root (dest's
// parent), the journal record and the same record resolved to absolute paths.
type replacement struct {
	o           Options
	fs          durable.FS
	root        string
	journalPath string
	rec         record
	j           Journal
}

// planReplace checks the layout and what is on disk, and picks the mode.
func planReplace(o Options, dest, staged, journalPath string) (*replacement, error) {
	var err error
	r := &replacement{o: o, fs: o.FS}
	if dest, err = filepath.Abs(dest); err != nil {
		return nil, fmt.Errorf("dest: %w", err)
	}
	if staged, err = filepath.Abs(staged); err != nil {
		return nil, fmt.Errorf("staged: %w", err)
	}
	if r.journalPath, err = filepath.Abs(journalPath); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	r.root = filepath.Dir(dest)
	r.rec = record{Version: journalVersion, Dest: filepath.Base(dest)}
	if r.rec.Staged, err = r.rel("staged", staged); err != nil {
		return nil, err
	}
	if r.rec.Journal, err = r.rel("journal", r.journalPath); err != nil {
		return nil, err
	}
	if err := r.identify(dest, staged); err != nil {
		return nil, err
	}
	if err := r.rec.validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadLayout, err)
	}
	r.j = r.rec.toJournal(r.root)
	return r, nil
}

// rel returns p relative to the root, refusing a path outside it.
func (r *replacement) rel(what, p string) (string, error) {
	rel, err := filepath.Rel(r.root, p)
	if err != nil || !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%w: %s %s is not below %s", ErrBadLayout, what, p, r.root)
	}
	return filepath.ToSlash(rel), nil
}

// identify looks at staged, dest, the journal and the old path, records the
// identities of the trees, and picks the mode.
func (r *replacement) identify(dest, staged string) error {
	si, ok, err := lstatInfo(r.fs, staged)
	switch {
	case err != nil:
		return fmt.Errorf("staged: %w", err)
	case !ok || !si.Mode.IsDir():
		return fmt.Errorf("%w: staged %s is not a directory", ErrBadLayout, staged)
	}
	di, destExists, err := lstatInfo(r.fs, dest)
	switch {
	case err != nil:
		return fmt.Errorf("dest: %w", err)
	case destExists && !di.Mode.IsDir():
		return fmt.Errorf("%w: dest %s is not a directory", ErrBadLayout, dest)
	}
	if _, ok, err := lstatInfo(r.fs, r.journalPath); err != nil {
		return fmt.Errorf("journal: %w", err)
	} else if ok {
		return fmt.Errorf("%w: %s", ErrPending, r.journalPath)
	}
	r.rec.StagedID, r.rec.DestID = si.ID, di.ID
	switch {
	case !destExists:
		r.rec.Mode = ModeRename.String()
	case r.o.Journaled:
		return r.usePair()
	default:
		r.rec.Mode = ModeExchange.String()
	}
	return nil
}

// usePair switches the record to the journaled pair, whose old path must be
// free.
func (r *replacement) usePair() error {
	old := filepath.Join(r.root, r.rec.usePair())
	if _, ok, err := lstatInfo(r.fs, old); err != nil {
		return fmt.Errorf("old path: %w", err)
	} else if ok {
		return fmt.Errorf("%w: old path %s exists", ErrBadLayout, old)
	}
	return nil
}

// switchToPair moves a planned exchange to the journaled pair and rewrites the
// journal, when the exchange turned out unsupported.
func (r *replacement) switchToPair() error {
	if err := r.usePair(); err != nil {
		return err
	}
	r.j = r.rec.toJournal(r.root)
	return r.writeJournal()
}

// writeJournal installs the record at the journal path atomically and
// durably (durable.WriteFile).
func (r *replacement) writeJournal() error {
	b, err := r.rec.encode()
	if err != nil {
		return err
	}
	if err := durable.WriteFile(r.fs, r.journalPath, b, 0o600); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	return nil
}
