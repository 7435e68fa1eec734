//go:build !linux

package durable

import (
	"io/fs"
	"os"
	"path/filepath"
)

// OpenDirWithin opens the directory at path, which must be root or lie below
// it (else an error wrapping ErrOutside), making it and its parents with
// perm when missing and create is set. Off Linux, paths are resolved by
// name: symlinks below root are followed.
func OpenDirWithin(root, path string, create bool, perm fs.FileMode) (*Dir, error) {
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if r, err := filepath.Rel(absRoot, abs); err != nil || (r != "." && !filepath.IsLocal(r)) {
		return nil, &fs.PathError{Op: "open", Path: path, Err: ErrOutside}
	}
	if create {
		if err := os.MkdirAll(abs, perm); err != nil {
			return nil, err
		}
	}
	return OpenDir(abs)
}
