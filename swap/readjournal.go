package swap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/snapsync/snapsync/internal/durable"
)

// ReadJournal reads and validates the journal at journalPath without acting on
// it; ok is false when there is none. Its paths are resolved against the root
// the journal names relative to its own location, so a journal cannot name a
// path outside the directory that holds it (or, for a journal in a staging
// directory, the directory that holds that).
func ReadJournal(ctx context.Context, journalPath string, o Options) (j Journal, ok bool, err error) {
	o = o.ensureDefaults()
	if ctx.Err() != nil {
		return Journal{}, false, context.Cause(ctx)
	}
	abs, err := filepath.Abs(journalPath)
	if err != nil {
		return Journal{}, false, fmt.Errorf("journal: %w", err)
	}
	b, ok, err := readBounded(o.FS, abs)
	if err != nil || !ok {
		return Journal{}, false, err
	}
	if j, err = readRecord(abs, b); err != nil {
		return Journal{}, false, err
	}
	j.path = abs
	return j, true, nil
}

// readRecord decodes the journal at abs, of either version, and resolves it
// against the root it names.
func readRecord(abs string, b []byte) (Journal, error) {
	var r journalRecord = new(record)
	version := journalVersion
	if journalVersionOf(b) == setJournalVersion {
		r, version = new(setRecord), setJournalVersion
	}
	if err := decodeValid(b, version, r); err != nil {
		return Journal{}, fmt.Errorf("%s: %w", abs, err)
	}
	root, err := rootOf(abs, r.journalRel())
	if err != nil {
		return Journal{}, err
	}
	return r.toJournal(root), nil
}

// rootOf returns the root a journal at abs that records itself at rel (slash
// separated, relative to the root) names: abs less rel.
func rootOf(abs, rel string) (string, error) {
	root, ok := strings.CutSuffix(filepath.ToSlash(abs), "/"+rel)
	if !ok {
		return "", fmt.Errorf("%w: %s: records itself at %q", ErrBadJournal, abs, rel)
	}
	if root == "" {
		root = "/"
	}
	return filepath.FromSlash(root), nil
}

// readBounded reads a regular file of at most MaxJournalSize bytes; ok is
// false when nothing is at p.
func readBounded(fsys durable.FS, p string) (b []byte, ok bool, err error) {
	b, err = durable.ReadFileBounded(fsys, p, MaxJournalSize)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, false, nil
	case errors.Is(err, durable.ErrNotBounded):
		return nil, false, fmt.Errorf("%w: %w", ErrBadJournal, err)
	case err != nil:
		return nil, false, fmt.Errorf("journal: %w", err)
	}
	return b, true, nil
}
