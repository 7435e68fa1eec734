package client

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/swap"
	"github.com/snapsync/snapsync/verify"
)

// SetStagingName is the staging area of an install with Config.Replace: a
// child of Dest itself, not a sibling, so that every entry moves by a
// rename on Dest's own filesystem even when Dest is a mount point (an OM
// metadata directory often is). It keeps the staging area's rules: mode
// 0700, this process's uid, every operation below a handle of its parent
// (here Dest) that follows no symlink. It is the one entry of Dest an
// install with Replace adds, and only while an install is under way.
const SetStagingName = ".snapsync-replace"

var (
	// ErrOutsideReplace reports a snapshot with top-level entries that
	// Config.Replace does not list: the install fails before any chunk is
	// fetched, naming them. It wraps ErrConfig.
	ErrOutsideReplace = fmt.Errorf("%w: snapshot entries outside the replace list", ErrConfig)
	// ErrReplaceMismatch reports a Commit whose Config.Replace is not the
	// list the staged snapshot was prepared with. It wraps ErrNotStaged.
	ErrReplaceMismatch = fmt.Errorf("%w: replace list differs from the prepared one", ErrNotStaged)
)

// entryID is the identity of one staged top-level entry (Config.Replace).
type entryID struct {
	Name string         `json:"name"`
	ID   durable.FileID `json:"id"`
}

// validateReplace reports what is wrong with a replace list.
func validateReplace(names []string, bad func(string, ...any)) {
	if len(names) > swap.MaxSetEntries {
		bad("Replace lists %d names, more than %d", len(names), swap.MaxSetEntries)
	}
	for i, n := range names {
		switch {
		case n == "" || strings.ContainsAny(n, `/\`) || !filepath.IsLocal(n) || verify.ValidatePath(n) != nil:
			bad("Replace name %q is not one path component", n)
		case n == SetStagingName || strings.HasPrefix(n, ".snapsync-"):
			bad("Replace name %q is snapsync's own", n)
		case slices.Contains(names[:i], n):
			bad("Replace names %q twice", n)
		}
	}
}

// checkSet refuses a snapshot with a top-level entry not in names, or with
// none at all, before anything is fetched.
func checkSet(m *verify.Manifest, names []string) error {
	if len(names) == 0 {
		return nil
	}
	top := map[string]bool{}
	for _, d := range m.Dirs {
		top[strings.SplitN(d.Path, "/", 2)[0]] = true
	}
	for _, f := range m.Files {
		top[strings.SplitN(f.Path, "/", 2)[0]] = true
	}
	var extra []string
	for n := range top {
		if !slices.Contains(names, n) {
			extra = append(extra, n)
		}
	}
	slices.Sort(extra)
	switch {
	case len(extra) > 0:
		return fmt.Errorf("%w: %s (replace list: %s)", ErrOutsideReplace, strings.Join(extra, ", "), strings.Join(names, ","))
	case len(top) == 0:
		return fmt.Errorf("%w: the snapshot has no entries", ErrOutsideReplace)
	}
	return nil
}

// stagedEntries returns the identity of each top-level entry of stage/.
func stagedEntries(l layout) ([]entryID, error) {
	des, err := l.fs.ReadDir(l.stage)
	if err != nil {
		return nil, fmt.Errorf("%w: list %s: %v", ErrStaging, l.stage, err)
	}
	var ids []entryID
	for _, de := range des {
		id, err := lstatID(l.fs, filepath.Join(l.stage, de.Name()))
		if err != nil || id.IsZero() {
			return nil, fmt.Errorf("%w: identify %s: %v", ErrStaging, de.Name(), err)
		}
		ids = append(ids, entryID{Name: de.Name(), ID: id})
	}
	return ids, nil
}

// setInPlace reports whether every staged entry of st is in Dest: the set
// swap happened (swap.Recover has made it all or nothing).
func setInPlace(l layout, st *state) (bool, error) {
	if len(st.Entries) == 0 {
		return false, nil
	}
	for _, e := range st.Entries {
		id, err := lstatID(l.fs, filepath.Join(l.dest, e.Name))
		if err != nil {
			return false, fmt.Errorf("identify %s: %w", e.Name, err)
		}
		if !id.Same(e.ID) {
			return false, nil
		}
	}
	return true, nil
}

// setOld is where swap.ReplaceSet left the old entries: the park directory
// of the journaled pairs if it is there, else stage/ (exchanges).
func (l layout) setOld() string {
	if info, err := l.fs.Lstat(l.stage + ".swap-old"); err == nil && info.Mode.IsDir() {
		return l.stage + ".swap-old"
	}
	return l.stage
}

// setAreaConfig returns cfg aimed at the staging area of a set install in
// Dest, when cfg lists no names but such an area exists: Recover and Abort
// find an interrupted set install without being told its list (the journal
// and the state hold it).
func setAreaConfig(cfg Config) (Config, bool) { return setAreaConfigBy(cfg, "") }

// setAreaConfigBy is setAreaConfig where what must exist is the set staging
// area's path + suffix (RollbackSuffix: Rollback and Finalize find a set
// install's kept DB).
func setAreaConfigBy(cfg Config, suffix string) (Config, bool) {
	if len(cfg.Replace) > 0 || cfg.setArea || cfg.Dest == "" {
		return cfg, false
	}
	p := filepath.Join(cfg.Dest, SetStagingName)
	info, err := durable.OS().Lstat(p + suffix)
	if errors.Is(err, fs.ErrNotExist) || err != nil || !info.Mode.IsDir() {
		return cfg, false
	}
	cfg.StagingDir, cfg.setArea = p, true
	return cfg, true
}
