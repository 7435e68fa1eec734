package client

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/snapsync/snapsync/internal/durable"
)

// NoteName is the file of a staging area where the program that drives
// installs (the sidecar) keeps its own record of the install. Package client
// never reads it; it lives and goes with the staging area, under the
// area's rules (mode 0700, this process's uid, no symlink followed).
const NoteName = "sidecar.json"

// maxNoteSize bounds a note before it is read.
const maxNoteSize = 64 << 10

// area is an existing staging area opened for a note or a look at its
// state: a layout whose fs resolves below a handle of the area's parent.
type area struct {
	l     layout
	close func()
}

// An AreaOption tunes how WriteNote, ReadNote, RemoveNote and Staged reach
// a staging area.
type AreaOption func(*areaOptions)

type areaOptions struct {
	within string
}

// WithinDir reaches the staging area's parent from dir down without
// following a symlink, as Config.Within does for an install: a directory
// below dir swapped for a symlink makes the call fail instead of reading or
// writing outside dir. Default: the parent is opened as named.
func WithinDir(dir string) AreaOption {
	return func(o *areaOptions) { o.within = dir }
}

// openArea opens the staging area at root (a path of package client's
// layout: Dest's sibling or SetStagingName in Dest) and checks it is this
// process's own. create makes a missing area (and its parents); without it
// a missing area is fs.ErrNotExist.
func openArea(root string, create bool, opts []AreaOption) (*area, error) {
	var o areaOptions
	for _, opt := range opts {
		opt(&o)
	}
	d, err := openParent(root, o.within, create)
	if err != nil {
		return nil, err
	}
	l := newLayout(&Config{StagingDir: root, Within: o.within})
	l.fs = durable.Beneath(d)
	a := &area{l: l, close: func() { _ = d.Close() }} // a read-only handle
	if create {
		err = ensureArea(l)
	} else {
		err = checkExisting(l)
	}
	if err != nil {
		a.close()
		return nil, err
	}
	return a, nil
}

// checkExisting refuses a staging area this process does not control alone.
func checkExisting(l layout) error {
	info, err := l.fs.Lstat(l.root)
	if err != nil {
		return err
	}
	return checkArea(l.root, info, os.Geteuid())
}

// WriteNote replaces the note of the staging area at root with b, durably
// (durable.WriteFile), creating the area with mode 0700 when it is missing.
// It takes no lock: the caller orders its own operations on the area.
func WriteNote(root string, b []byte, opts ...AreaOption) error {
	a, err := openArea(root, true, opts)
	if err != nil {
		return err
	}
	defer a.close()
	return durable.WriteFile(a.l.fs, filepath.Join(root, NoteName), b, 0o600)
}

// ReadNote returns the note of the staging area at root; nil, nil when there
// is no area or no note.
func ReadNote(root string, opts ...AreaOption) ([]byte, error) {
	a, err := openArea(root, false, opts)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer a.close()
	b, err := readBounded(a.l.fs, filepath.Join(root, NoteName), maxNoteSize)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	return b, err
}

// RemoveNote removes the note of the staging area at root, durably; no area
// or no note is no error.
func RemoveNote(root string, opts ...AreaOption) error {
	a, err := openArea(root, false, opts)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer a.close()
	return durable.Remove(a.l.fs, filepath.Join(root, NoteName))
}
