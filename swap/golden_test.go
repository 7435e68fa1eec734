package swap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/internal/golden"
)

// TestGolden records the exact operation order of each path of Replace, and
// of Recover after an abort at a hook point, against testdata/<name>.golden
// (pebble's testdata/checkpoint habit). Paths are relative to the test's base
// directory: db is dest, .snapsync-db/stage is staged.
func TestGolden(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name      string
		withDest  bool
		journaled bool
		abortAt   string // a hook point to abort at, then recover; "" runs to the end
	}{
		{name: "exchange", withDest: true},
		{name: "rename-no-dest"},
		{name: "pair", withDest: true, journaled: true},
		{name: "pair-no-dest-renames", journaled: true},
		{name: "exchange-abort-before-swap", withDest: true, abortAt: "before-swap"},
		{name: "exchange-abort-after-swap", withDest: true, abortAt: "after-swap"},
		{name: "pair-abort-before-swap", withDest: true, journaled: true, abortAt: "before-swap"},
		{name: "pair-abort-mid-swap", withDest: true, journaled: true, abortAt: "mid-swap"},
		{name: "rename-abort-before-cleanup", abortAt: "before-cleanup"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLayout(t)
			if tc.withDest {
				writeTree(t, l.dest, oldTree)
			}
			writeTree(t, l.staged, newTree)
			var log bytes.Buffer
			o := Options{FS: durable.WithLogging(durable.OS(), &log, l.base), Journaled: tc.journaled, Hook: func(p string) error {
				fmt.Fprintf(&log, "hook %s\n", p)
				if p == tc.abortAt {
					return errCrash
				}
				return nil
			}}
			fmt.Fprintf(&log, "-- replace --\n")
			old, err := Replace(context.Background(), l.dest, l.staged, l.journal, o)
			fmt.Fprintf(&log, "=> old %q, err %v\n", relPath(l.base, old), errors.Is(err, ErrInterrupted))
			if tc.abortAt != "" {
				o.Hook = func(p string) error { fmt.Fprintf(&log, "hook %s\n", p); return nil }
				fmt.Fprintf(&log, "-- recover --\n")
				outcome, err := Recover(context.Background(), l.journal, o)
				if err != nil {
					t.Fatalf("recover: %v", err)
				}
				fmt.Fprintf(&log, "=> %s, dest is %s\n", outcome, treeName(readTree(t, l.dest)))
			}
			golden.Check(t, filepath.Join("testdata", tc.name+".golden"), log.Bytes())
		})
	}
}

// relPath returns p relative to base, "" for "".
func relPath(base, p string) string {
	if p == "" {
		return ""
	}
	r, err := filepath.Rel(base, p)
	if err != nil {
		return p
	}
	return filepath.ToSlash(r)
}
