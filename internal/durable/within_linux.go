//go:build linux

package durable

import (
	"errors"
	"io/fs"
	"strings"
)

// OpenDirWithin opens the directory at path, which must be root or lie below
// it (else an error wrapping ErrOutside). root is opened as named, a
// configured path the caller trusts; what follows it is resolved from
// root's handle with Dir's rules, following no symlink, so a component
// swapped for a symlink makes it fail (ELOOP, ENOTDIR) instead of opening a
// directory outside root. With create, missing directories below root are
// made on the way, with perm (less the umask), the same way.
func OpenDirWithin(root, path string, create bool, perm fs.FileMode) (*Dir, error) {
	r, err := OpenDir(root)
	if err != nil {
		return nil, err
	}
	defer r.Close() //nolint:errcheck // a read-only directory handle
	rel, err := dirFS{d: r}.rel("open", path)
	if err != nil {
		return nil, err
	}
	if create && rel != "." {
		parts := strings.Split(rel, "/")
		for i := range parts {
			err := r.Mkdir(strings.Join(parts[:i+1], "/"), perm)
			if err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, err
			}
		}
	}
	return r.OpenDir(rel)
}
