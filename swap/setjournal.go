package swap

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// MaxSetEntries bounds the entries of one ReplaceSet, so that its journal
// stays under MaxJournalSize.
const MaxSetEntries = 16

// Entry is one top-level entry of a set replace, as its journal records it.
// An entry the snapshot adds has a zero DestID; one it removes, a zero
// StagedID.
type Entry struct {
	Name     string // one path component, an entry of Journal.Dest
	StagedID FileID // the new entry at Journal.Staged/Name; zero if none
	DestID   FileID // the old entry at Journal.Dest/Name; zero if none
}

// setRecord is a set's journal on disk (version 2): paths slash-separated and
// relative to the root, which is the directory whose entries are replaced.
// Journal is the journal file's own path, Staged the directory that holds
// the new entries, Old (ModePair only) the park directory of the old ones.
type setRecord struct {
	Version int        `json:"version"`
	Mode    string     `json:"mode"`
	Journal string     `json:"journal"`
	Staged  string     `json:"staged"`
	Old     string     `json:"old,omitempty"`
	Entries []setEntry `json:"entries"`
}

type setEntry struct {
	Name     string `json:"name"`
	StagedID FileID `json:"staged_id"`
	DestID   FileID `json:"dest_id"`
}

func (r *setRecord) encode() ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	return encodeJournal(setJournalVersion, r)
}

func decodeSetRecord(b []byte) (*setRecord, error) {
	r := new(setRecord)
	if err := decodeJournal(b, setJournalVersion, r); err != nil {
		return nil, err
	}
	if err := r.validate(); err != nil {
		return nil, err
	}
	return r, nil
}

// validate reports every way r breaks the layout rules, wrapped in
// ErrBadJournal: a record that passes names nothing outside its root, and
// no entry name that overlaps the staging paths.
func (r *setRecord) validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if r.Version != setJournalVersion {
		fail("version %d, want %d", r.Version, setJournalVersion)
	}
	mode, ok := parseMode(r.Mode)
	if !ok || mode == ModeRename {
		fail("mode %q is not exchange or pair", r.Mode)
	}
	if (mode == ModePair) != (r.Old != "") {
		fail("old path %q in mode %s", r.Old, r.Mode)
	}
	r.validatePaths(fail)
	if len(r.Entries) == 0 || len(r.Entries) > MaxSetEntries {
		fail("%d entries, want 1 to %d", len(r.Entries), MaxSetEntries)
	}
	for i, e := range r.Entries {
		switch {
		case strings.Contains(e.Name, "/") || verify.ValidatePath(e.Name) != nil:
			fail("entry %q is not one path component", e.Name)
		case slices.ContainsFunc(r.Entries[:i], func(o setEntry) bool { return o.Name == e.Name }):
			fail("entry %q twice", e.Name)
		case e.StagedID.IsZero() && e.DestID.IsZero():
			fail("entry %q has neither a new nor an old identity", e.Name)
		case e.StagedID == e.DestID:
			fail("entry %q: staged and dest share id %s", e.Name, e.StagedID)
		}
		for _, p := range []string{r.Journal, r.Staged, r.Old} {
			if p != "" && within(p, e.Name) {
				fail("entry %q holds %q", e.Name, p)
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrBadJournal, errors.Join(errs...))
	}
	return nil
}

func (r *setRecord) validatePaths(fail func(string, ...any)) {
	named := []struct{ what, p string }{
		{"journal", r.Journal}, {"journal tmp", r.Journal + durable.TmpSuffix}, {"staged", r.Staged},
	}
	if r.Old != "" {
		named = append(named, struct{ what, p string }{"old", r.Old})
	}
	for _, n := range named {
		if err := verify.ValidatePath(n.p); err != nil {
			fail("%s: %v", n.what, err)
		}
	}
	if strings.Count(r.Journal, "/") > 1 {
		fail("journal %q more than one directory below the root", r.Journal)
	}
	for i, a := range named {
		for _, b := range named[i+1:] {
			if within(a.p, b.p) || within(b.p, a.p) {
				fail("%s %q and %s %q overlap", a.what, a.p, b.what, b.p)
			}
		}
	}
}

// toJournal resolves r against root, the directory whose entries it
// replaces.
func (r *setRecord) toJournal(root string) Journal {
	abs := func(p string) string { return filepath.Join(root, filepath.FromSlash(p)) }
	mode, _ := parseMode(r.Mode) // validated
	j := Journal{Mode: mode, Dest: root, Staged: abs(r.Staged), Old: abs(r.Staged)}
	if mode == ModePair {
		j.Old = abs(r.Old)
	}
	for _, e := range r.Entries {
		j.Entries = append(j.Entries, Entry(e))
	}
	return j
}

func readSetJournal(abs string, b []byte) (Journal, error) {
	r, err := decodeSetRecord(b)
	if err != nil {
		return Journal{}, fmt.Errorf("%s: %w", abs, err)
	}
	root, err := rootOf(abs, r.Journal)
	if err != nil {
		return Journal{}, err
	}
	return r.toJournal(root), nil
}
