package registry

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/snapsync/snapsync/source"
)

// TestLoadStrict: the saved registration is decoded strictly; one with an
// unknown field or trailing data, or that is not a regular file, is ignored
// (no registration), and one as this version writes it is restored.
func TestLoadStrict(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newSource(t, Config{})
	dir := makeCheckpoint(t, s.root, "c1")
	if err := s.Register(ctx, dir, 2, 100, nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(s.root, stateFile)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	testCases := []struct {
		name     string
		write    func() error
		restored bool
	}{
		{"as written", func() error { return os.WriteFile(path, good, 0o600) }, true},
		{"unknown field", func() error { return os.WriteFile(path, append(good[:len(good)-1:len(good)-1], `,"x":1}`...), 0o600) }, false},
		{"trailing data", func() error { return os.WriteFile(path, append(good[:len(good):len(good)], "{}"...), 0o600) }, false},
		{"symlink", func() error {
			other := filepath.Join(t.TempDir(), "state.json")
			if err := os.WriteFile(other, good, 0o600); err != nil {
				return err
			}
			if err := os.Remove(path); err != nil {
				return err
			}
			return os.Symlink(other, path)
		}, false},
	}
	for _, tc := range testCases {
		if err := tc.write(); err != nil {
			t.Fatal(err)
		}
		again := newSource(t, Config{Root: s.root})
		_, err := again.Checkpoint(ctx, filepath.Join(t.TempDir(), "ck"), 100)
		if restored := err == nil; restored != tc.restored {
			t.Errorf("%s: Checkpoint after restart: %v, want restored %v", tc.name, err, tc.restored)
		}
		if !tc.restored && !errors.Is(err, source.ErrMinIndex) {
			t.Errorf("%s: %v, want ErrMinIndex (no registration)", tc.name, err)
		}
	}
}
