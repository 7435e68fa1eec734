package swap

import (
	"errors"
	"fmt"
	"strings"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// validate reports every way r breaks the layout rules, wrapped in
// ErrBadJournal: a record that passes names nothing outside its root.
func (r *record) validate() error {
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if r.Version != journalVersion {
		fail("version %d, want %d", r.Version, journalVersion)
	}
	mode, ok := parseMode(r.Mode)
	if !ok {
		fail("unknown mode %q", r.Mode)
	}
	r.validatePaths(mode, fail)
	if r.StagedID.IsZero() {
		fail("no staged id")
	}
	if (mode == ModeRename) != r.DestID.IsZero() {
		fail("dest id %s does not fit mode %s", r.DestID, r.Mode)
	}
	if r.StagedID == r.DestID {
		fail("staged and dest share id %s", r.StagedID)
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %w", ErrBadJournal, errors.Join(errs...))
	}
	return nil
}

func (r *record) validatePaths(mode Mode, fail func(string, ...any)) {
	named := []struct{ what, p string }{
		{"journal", r.Journal}, {"journal tmp", r.Journal + durable.TmpSuffix}, {"dest", r.Dest}, {"staged", r.Staged},
	}
	if mode == ModePair {
		named = append(named, struct{ what, p string }{"old", r.Old})
	} else if r.Old != "" {
		fail("old path %q in mode %s", r.Old, r.Mode)
	}
	for _, n := range named {
		if err := verify.ValidatePath(n.p); err != nil {
			fail("%s: %v", n.what, err)
		}
	}
	if strings.Count(r.Journal, "/") > 1 {
		fail("journal %q more than one directory below the root", r.Journal)
	}
	if strings.Contains(r.Dest, "/") || strings.Contains(r.Old, "/") {
		fail("dest %q or old %q not directly in the root", r.Dest, r.Old)
	}
	for i, a := range named {
		for _, b := range named[i+1:] {
			if within(a.p, b.p) || within(b.p, a.p) {
				fail("%s %q and %s %q overlap", a.what, a.p, b.what, b.p)
			}
		}
	}
}

// within reports whether p is dir or lies below it (slash paths).
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}
