package swap

import (
	"path/filepath"
	"strings"
)

// record is the journal of one directory on disk (version 1): paths are
// slash-separated and relative to the root, dest's parent directory; Journal
// is the journal file's own path, from which Recover finds the root again.
type record struct {
	Version  int    `json:"version"`
	Mode     string `json:"mode"`
	Journal  string `json:"journal"`
	Dest     string `json:"dest"`
	Staged   string `json:"staged"`
	Old      string `json:"old,omitempty"`
	StagedID FileID `json:"staged_id"`
	DestID   FileID `json:"dest_id"`
}

var _ journalRecord = (*record)(nil)

// encode renders r as three lines: magic and version, the JSON record, and
// the SHA-256 of the first two lines.
func (r *record) encode() ([]byte, error) { return encodeRecord(journalVersion, r) }

// decodeRecord parses and validates an untrusted journal of a directory.
func decodeRecord(b []byte) (*record, error) {
	r := new(record)
	if err := decodeValid(b, journalVersion, r); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *record) journalRel() string { return r.Journal }

// usePair switches r to the journaled pair, whose old path is a hidden
// sibling of dest.
func (r *record) usePair() string {
	r.Mode = ModePair.String()
	r.Old = "." + r.Dest + ".swap-old"
	return r.Old
}

// validate reports every way r breaks the layout rules, wrapped in
// ErrBadJournal: a record that passes names nothing outside its root.
func (r *record) validate() error {
	var p problems
	mode := p.header(r.Version, journalVersion, r.Mode, ModeExchange, ModeRename, ModePair)
	named := []namedPath{{"dest", r.Dest}, {"staged", r.Staged}}
	if mode == ModePair {
		named = append(named, namedPath{"old", r.Old})
	} else if r.Old != "" {
		p.add("old path %q in mode %s", r.Old, r.Mode)
	}
	p.checkPaths(r.Journal, named...)
	if strings.Contains(r.Dest, "/") || strings.Contains(r.Old, "/") {
		p.add("dest %q or old %q not directly in the root", r.Dest, r.Old)
	}
	if r.StagedID.IsZero() {
		p.add("no staged id")
	}
	if (mode == ModeRename) != r.DestID.IsZero() {
		p.add("dest id %s does not fit mode %s", r.DestID, r.Mode)
	}
	if r.StagedID == r.DestID {
		p.add("staged and dest share id %s", r.StagedID)
	}
	return p.err()
}

// toJournal resolves r against root, the directory that holds dest.
func (r *record) toJournal(root string) Journal {
	abs := func(p string) string {
		if p == "" {
			return ""
		}
		return filepath.Join(root, filepath.FromSlash(p))
	}
	mode, _ := parseMode(r.Mode) // validated
	j := Journal{
		Mode: mode, Dest: abs(r.Dest), Staged: abs(r.Staged), Old: abs(r.Old),
		StagedID: r.StagedID, DestID: r.DestID,
	}
	if mode == ModeExchange {
		j.Old = j.Staged
	}
	return j
}
