//go:build !linux

package durable

import (
	"os"
	"path/filepath"
)

// Dir names a directory. Off Linux it holds no handle: Beneath resolves
// paths by name, as OS does.
type Dir struct{ path string }

// OpenDir checks that path is a directory and returns it.
func OpenDir(path string) (*Dir, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	if _, err := os.ReadDir(abs); err != nil {
		return nil, err
	}
	return &Dir{path: abs}, nil
}

// Path returns the absolute path d was opened at.
func (d *Dir) Path() string { return d.path }

// Close does nothing off Linux.
func (d *Dir) Close() error { return nil }

// Beneath returns OS off Linux: paths are resolved by name.
func Beneath(*Dir) StageFS { return OS() }
