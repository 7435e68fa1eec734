package sidecar

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/snapsync/snapsync/client"
)

// stagingPrefix begins the name of a staging area (package client's default,
// beside the destination); no destination may be one.
const stagingPrefix = ".snapsync-"

// roots are the allowed roots, absolute and with symlinks resolved.
type roots []string

// resolve checks a destination from a request and returns it absolute, with
// its parent's symlinks resolved, so that one directory has one name: it
// must be strictly below a root, its parent must exist, and it must not be
// a symlink or a staging area. The returned path is what the service keys
// its state machines by.
//
// A set install (Prepare with a replace list) replaces entries strictly
// below dest, never dest itself, so dest may also be a root (an OM's
// metadata directory named by --allow-dest) when atRoot is set; Commit,
// Abort and Status use resolveAfterPrepare.
func (rs roots) resolve(dest string, atRoot bool) (string, error) {
	if dest == "" {
		return "", fmt.Errorf("%w: dest is required", ErrBadRequest)
	}
	if !filepath.IsAbs(dest) {
		return "", fmt.Errorf("%w: dest %q is not an absolute path", ErrBadRequest, dest)
	}
	clean := filepath.Clean(dest)
	base := filepath.Base(clean)
	if clean == filepath.Dir(clean) || strings.HasPrefix(base, stagingPrefix) {
		return "", fmt.Errorf("%w: dest %q cannot be a filesystem root or a staging area", ErrBadRequest, dest)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(clean))
	if err != nil {
		return "", fmt.Errorf("%w: parent of dest %q: %w", ErrBadRequest, dest, err)
	}
	p := filepath.Join(parent, base)
	if !rs.contain(p, atRoot) || (!atRoot && rs.isRoot(p)) {
		// A root is never swapped whole, even when it lies below another
		// root (nested --allow-dest).
		return "", fmt.Errorf("%w: %s (allowed: %s)", ErrNotAllowed, p, strings.Join(rs, ", "))
	}
	fi, err := os.Lstat(p)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", fmt.Errorf("%w: dest %s: %w", ErrBadRequest, p, err)
	case !fi.IsDir():
		return "", fmt.Errorf("%w: dest %s is not a directory (mode %v)", ErrBadRequest, p, fi.Mode())
	}
	return p, nil
}

// isRoot reports whether p is one of the roots.
func (rs roots) isRoot(p string) bool {
	for _, r := range rs {
		if r == p {
			return true
		}
	}
	return false
}

// resolveCommit resolves the dest of a Commit: below a root, or a root that
// holds a set install's staging area or its rollback area (a set install is
// the only install a root can be the dest of), so that no swap ever moves a
// root itself. Abort and Status, which only give back or report staging
// areas, resolve with atRoot; Rollback and Finalize with resolveKept.
func (rs roots) resolveCommit(dest string) (string, error) {
	p, err := rs.resolve(dest, true)
	if err != nil || !rs.isRoot(p) {
		return p, err
	}
	for _, area := range []string{client.SetStagingName, client.SetStagingName + client.RollbackSuffix} {
		if fi, err := os.Lstat(filepath.Join(p, area)); err == nil && fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%w: %s is an allowed root and holds no set install (allowed: %s)", ErrNotAllowed, p, strings.Join(rs, ", "))
}

// resolveKept resolves the dest of a Rollback or Finalize: any dest Commit
// takes, and an allowed root whatever it holds (the call then looks only
// at the root's set rollback area; see InstallService.keptHere), so that a
// repeated Finalize is no error.
func (rs roots) resolveKept(dest string) (string, error) {
	return rs.resolve(dest, true)
}

// within returns the directory the installs of a resolved dest reach their
// staging area from without following a symlink (client.Config.Within): the
// deepest root dest lies below, or, for a root itself (a set install's dest,
// whose whole-tree staging area Abort and Status still look at), that root's
// parent, trusted as named with the root. Every directory between it and
// the staging area's parent is then opened without following a symlink, so
// one another uid swaps for a symlink after resolve makes the operation fail
// instead of leaving the root.
func (rs roots) within(dest string) string {
	best := ""
	for _, r := range rs {
		if r == dest {
			return filepath.Dir(r)
		}
		if len(r) > len(best) && (roots{r}).contain(dest, false) {
			best = r
		}
	}
	if best == "" {
		return filepath.Dir(dest) // unreachable for a resolved dest: its parent as named
	}
	return best
}

// contain reports whether p is strictly below one of the roots, or, with
// orRoot, one of them.
func (rs roots) contain(p string, orRoot bool) bool {
	for _, r := range rs {
		rel, err := filepath.Rel(r, p)
		if err == nil && rel == "." && orRoot {
			return true
		}
		if err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
			return true
		}
	}
	return false
}
