package swap

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// problems collects every way a record breaks the layout rules, so that one
// error reports them all.
type problems []error

func (p *problems) add(format string, args ...any) { *p = append(*p, fmt.Errorf(format, args...)) }

// err is nil when nothing was found, else every problem wrapped in
// ErrBadJournal.
func (p problems) err() error {
	if len(p) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %w", ErrBadJournal, errors.Join(p...))
}

// header adds a problem when version is not want or mode names none of
// modes, and returns the mode parsed (0 when unknown).
func (p *problems) header(version, want int, mode string, modes ...Mode) Mode {
	if version != want {
		p.add("version %d, want %d", version, want)
	}
	m, ok := parseMode(mode)
	if !ok || !slices.Contains(modes, m) {
		p.add("mode %q is not one of %v", mode, modes)
	}
	return m
}

// namedPath is a slash path of a record, relative to its root, with what it is.
type namedPath struct{ what, p string }

// checkPaths adds a problem for each path that is not clean and relative, for
// a journal more than one directory below the root, and for any two paths
// (the journal and its temporary file included) that overlap.
func (p *problems) checkPaths(journal string, named ...namedPath) {
	named = append([]namedPath{{"journal", journal}, {"journal tmp", journal + durable.TmpSuffix}}, named...)
	for _, n := range named {
		if err := verify.ValidatePath(n.p); err != nil {
			p.add("%s: %v", n.what, err)
		}
	}
	if strings.Count(journal, "/") > 1 {
		p.add("journal %q more than one directory below the root", journal)
	}
	for i, a := range named {
		for _, b := range named[i+1:] {
			if within(a.p, b.p) || within(b.p, a.p) {
				p.add("%s %q and %s %q overlap", a.what, a.p, b.what, b.p)
			}
		}
	}
}

// within reports whether p is dir or lies below it (slash paths).
func within(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, dir+"/")
}
