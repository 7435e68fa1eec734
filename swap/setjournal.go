package swap

import (
	"path/filepath"
	"slices"
	"strings"

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

var _ journalRecord = (*setRecord)(nil)

func (r *setRecord) encode() ([]byte, error) { return encodeRecord(setJournalVersion, r) }

func (r *setRecord) journalRel() string { return r.Journal }

// usePair switches r to the journaled pairs, whose park directory is
// staged+".swap-old".
func (r *setRecord) usePair() string {
	r.Mode = ModePair.String()
	r.Old = r.Staged + ".swap-old"
	return r.Old
}

// validate reports every way r breaks the layout rules, wrapped in
// ErrBadJournal: a record that passes names nothing outside its root, and
// no entry name that overlaps the staging paths.
func (r *setRecord) validate() error {
	var p problems
	mode := p.header(r.Version, setJournalVersion, r.Mode, ModeExchange, ModePair)
	if (mode == ModePair) != (r.Old != "") {
		p.add("old path %q in mode %s", r.Old, r.Mode)
	}
	named := []namedPath{{"staged", r.Staged}}
	if r.Old != "" {
		named = append(named, namedPath{"old", r.Old})
	}
	p.checkPaths(r.Journal, named...)
	if len(r.Entries) == 0 || len(r.Entries) > MaxSetEntries {
		p.add("%d entries, want 1 to %d", len(r.Entries), MaxSetEntries)
	}
	for i, e := range r.Entries {
		switch {
		case strings.Contains(e.Name, "/") || verify.ValidatePath(e.Name) != nil:
			p.add("entry %q is not one path component", e.Name)
		case slices.ContainsFunc(r.Entries[:i], func(o setEntry) bool { return o.Name == e.Name }):
			p.add("entry %q twice", e.Name)
		case e.StagedID.IsZero() && e.DestID.IsZero():
			p.add("entry %q has neither a new nor an old identity", e.Name)
		case e.StagedID == e.DestID:
			p.add("entry %q: staged and dest share id %s", e.Name, e.StagedID)
		}
		for _, held := range []string{r.Journal, r.Staged, r.Old} {
			if held != "" && within(held, e.Name) {
				p.add("entry %q holds %q", e.Name, held)
			}
		}
	}
	return p.err()
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
