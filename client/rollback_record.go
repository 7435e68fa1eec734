package client

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/snapsync/snapsync/internal/durable"
)

// keptVersion is the version of rollback.json this code writes and reads.
const keptVersion = 1

// keptRecord is rollback.json. It is read back from disk and so is
// untrusted: decodeKept checks every field.
type keptRecord struct {
	Version int `json:"version"`
	// Set is a set install: Names are the entries of Dest it replaced.
	Set   bool     `json:"set"`
	Names []string `json:"names,omitempty"`
	// Snapshot is the installed snapshot (the staging area's state at the
	// swap): Rollback removes it and returns it.
	Snapshot state `json:"snapshot"`
	// Installed and Old are the identities of what the Commit put in Dest
	// and what it replaced: the tree at Dest (Name "") or, for a set
	// install, each listed entry (a zero identity: that side had none).
	Installed []entryID `json:"installed"`
	Old       []entryID `json:"old"`
}

// maxKeptSize bounds rollback.json before it is read.
const maxKeptSize = 64 << 10

// newKept records the state of a swap that has just happened: st at Dest,
// the replaced tree (or entries) at old. nil, nil when a set install
// replaced none of its names (they were all new): nothing to keep.
func newKept(l layout, st *state, old string) (*keptRecord, error) {
	rec := &keptRecord{Version: keptVersion, Set: l.set, Snapshot: *st}
	rec.Snapshot.Old = durable.FileID{}
	if !l.set {
		oid, err := lstatID(l.fs, old)
		if err != nil {
			return nil, fmt.Errorf("identify old tree: %w", err)
		}
		rec.Installed = []entryID{{ID: st.Staged}}
		rec.Old = []entryID{{ID: oid}}
		return rec, rec.validate()
	}
	rec.Names = slices.Clone(st.Replace)
	kept := false
	for _, n := range rec.Names {
		in, err := lstatID(l.fs, filepath.Join(l.dest, n))
		if err != nil {
			return nil, fmt.Errorf("identify %s: %w", n, err)
		}
		was, err := lstatID(l.fs, filepath.Join(old, n))
		if err != nil {
			return nil, fmt.Errorf("identify old %s: %w", n, err)
		}
		rec.Installed = append(rec.Installed, entryID{Name: n, ID: in})
		rec.Old = append(rec.Old, entryID{Name: n, ID: was})
		kept = kept || !was.IsZero()
	}
	if !kept {
		return nil, nil // none of the names existed before: nothing to keep
	}
	return rec, rec.validate()
}

func (r *keptRecord) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: rollback record: "+format, append([]any{ErrStaging}, args...)...)
	}
	if r.Version != keptVersion {
		return bad("version %d, want %d", r.Version, keptVersion)
	}
	if err := r.Snapshot.validate(); err != nil {
		return err
	}
	want := 1
	if r.Set {
		want = len(r.Names)
		var errs []string
		validateReplace(r.Names, func(f string, a ...any) { errs = append(errs, fmt.Sprintf(f, a...)) })
		if len(errs) > 0 || len(r.Names) == 0 {
			return bad("names %q", r.Names)
		}
	} else if len(r.Names) > 0 {
		return bad("names in a whole-dest record")
	}
	if len(r.Installed) != want || len(r.Old) != want {
		return bad("%d installed and %d old identities, want %d", len(r.Installed), len(r.Old), want)
	}
	kept := false
	for i := range want {
		name := ""
		if r.Set {
			name = r.Names[i]
		}
		if r.Installed[i].Name != name || r.Old[i].Name != name {
			return bad("identity %d names %q/%q, want %q", i, r.Installed[i].Name, r.Old[i].Name, name)
		}
		kept = kept || !r.Old[i].ID.IsZero()
	}
	if !kept {
		return bad("nothing kept")
	}
	return nil
}

func decodeKept(b []byte) (*keptRecord, error) {
	return decodeChecked[keptRecord](b, maxKeptSize, "rollback record")
}

// readKept reads the record of l's rollback area; nil, nil without one.
func readKept(l layout) (*keptRecord, error) {
	b, err := readBounded(l.fs, l.kept().record, maxKeptSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return decodeKept(b)
}

func writeKept(l layout, r *keptRecord) error {
	b, err := encodeChecked(r, "rollback record")
	if err != nil {
		return err
	}
	return durable.WriteFile(l.fs, l.kept().record, b, 0o600)
}

// Where a recorded rollback stands, by identity.
const (
	keptInstalled = iota // the area holds what Commit replaced, and Dest what it installed: a rollback can swap
	keptRestored         // Dest holds what Commit replaced: the rollback's swap is done
	keptChanged          // neither: Dest or the area was changed by someone else
)

// locate tells, by identity, where a recorded rollback stands. Dest holds
// what the Commit installed when each entry is the installed one, gone (the
// node removed it since), or, for an entry the snapshot lacked, whatever the
// node has made there since (a rollback moves it out with the rest); an
// entry replaced by another is a change. The area must hold exactly what
// the Commit replaced.
func (r *keptRecord) locate(l layout) (int, error) {
	kp := l.kept()
	installed, restored := true, true
	for i := range r.Installed {
		dest, kept := l.dest, kp.old
		if r.Set {
			dest, kept = filepath.Join(l.dest, r.Names[i]), filepath.Join(kp.old, r.Names[i])
		}
		did, err := lstatID(l.fs, dest)
		if err != nil {
			return 0, fmt.Errorf("identify %s: %w", dest, err)
		}
		kid, err := lstatID(l.fs, kept)
		if err != nil {
			return 0, fmt.Errorf("identify %s: %w", kept, err)
		}
		inst := r.Installed[i].ID
		installed = installed && (same(did, inst) || inst.IsZero() || did.IsZero()) && same(kid, r.Old[i].ID)
		restored = restored && same(did, r.Old[i].ID)
	}
	switch {
	case restored:
		return keptRestored, nil
	case installed:
		return keptInstalled, nil
	}
	return keptChanged, nil
}

// changedError is Rollback's refusal of a rollback whose Dest or area was
// changed by someone else: neither swap is safe.
func (r *keptRecord) changedError(l layout) error {
	return fmt.Errorf("%w: %s no longer holds what the commit of %s installed, or %s what it replaced; nothing was changed",
		ErrStaging, l.dest, r.Snapshot.SnapshotID, l.kept().old)
}

// same compares two identities, zero (absent) included.
func same(a, b durable.FileID) bool {
	if a.IsZero() || b.IsZero() {
		return a.IsZero() && b.IsZero()
	}
	return a.Same(b)
}
