package client

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/snapsync/snapsync/internal/manifesttest"
)

// TestStagingTraps plants symlinks and hard links to files outside the
// staging area where an interrupted install left its tree, then resumes:
// the install replaces them instead of writing through them, so the outside
// files are as they were and the installed tree is right.
func TestStagingTraps(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name  string
		plant func(tb testing.TB, staging, outside string)
		// other resumes with another snapshot of the same content, so the
		// earlier staging becomes prev/.
		other bool
	}{
		{"file symlink", func(tb testing.TB, staging, outside string) {
			replace(tb, filepath.Join(staging, "stage/a.sst"), func(p string) error {
				return os.Symlink(filepath.Join(outside, "victim"), p)
			})
		}, false},
		{"dir symlink", func(tb testing.TB, staging, outside string) {
			replace(tb, filepath.Join(staging, "stage/d"), func(p string) error { return os.Symlink(outside, p) })
		}, false},
		{"stage is a symlink", func(tb testing.TB, staging, outside string) {
			replace(tb, filepath.Join(staging, "stage"), func(p string) error { return os.Symlink(outside, p) })
		}, false},
		{"prev is a symlink", func(tb testing.TB, staging, outside string) {
			replace(tb, filepath.Join(staging, "prev"), func(p string) error { return os.Symlink(outside, p) })
		}, false},
		{"prev is a symlink, other snapshot", func(tb testing.TB, staging, outside string) {
			replace(tb, filepath.Join(staging, "prev"), func(p string) error { return os.Symlink(outside, p) })
		}, true},
		{"file symlink, other snapshot", func(tb testing.TB, staging, outside string) {
			replace(tb, filepath.Join(staging, "stage/a.sst"), func(p string) error {
				return os.Symlink(filepath.Join(outside, "victim"), p)
			})
		}, true},
		{"stage is a symlink, other snapshot", func(tb testing.TB, staging, outside string) {
			replace(tb, filepath.Join(staging, "stage"), func(p string) error { return os.Symlink(outside, p) })
		}, true},
		{"stage is a symlink beside prev, other snapshot", func(tb testing.TB, staging, outside string) {
			mkdirAll(tb, filepath.Join(staging, "prev"))
			if err := os.WriteFile(filepath.Join(staging, "prev", "kept"), []byte("earlier data"), 0o600); err != nil {
				tb.Fatal(err)
			}
			replace(tb, filepath.Join(staging, "stage"), func(p string) error { return os.Symlink(outside, p) })
		}, true},
		{"partial file hard-linked outside", func(tb testing.TB, staging, outside string) {
			replace(tb, filepath.Join(staging, "stage/d/b"), func(p string) error {
				return os.Link(filepath.Join(outside, "victim"), p)
			})
		}, false},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			m, content := defaultCraft()
			url := serveHostile(t, &hostile{manifest: manifesttest.EncodeRaw(m), content: content})
			m.Meta.Index++
			otherURL := serveHostile(t, &hostile{manifest: manifesttest.EncodeRaw(m), content: content})
			parent := t.TempDir()
			dest := filepath.Join(parent, "db")
			outside := filepath.Join(t.TempDir(), "outside")
			mkdirAll(t, filepath.Join(outside, "d"))
			for _, name := range []string{"victim", "d/b", "b"} {
				if err := os.WriteFile(filepath.Join(outside, name), []byte("not yours"), 0o444); err != nil {
					t.Fatal(err)
				}
			}
			before, beforeModes := readTree(t, outside), modes(t, outside)
			cfg := testConfig(t, dest)
			cfg.Streams, cfg.Hook = 1, chunkWriteLimit(2)
			if _, err := Prepare(context.Background(), url, 0, cfg); !errors.Is(err, errStop) {
				t.Fatalf("interrupted Prepare: %v", err)
			}
			tc.plant(t, filepath.Join(parent, ".snapsync-db"), outside)
			cfg.Hook = nil
			if tc.other {
				url = otherURL
			}
			res, err := Install(context.Background(), url, 0, cfg)
			if err != nil {
				t.Fatal(err)
			}
			if res.Index != m.Meta.Index-1 && !tc.other || res.Index != m.Meta.Index && tc.other {
				t.Fatalf("installed index %d", res.Index)
			}
			checkCrafted(t, dest, m, content, false)
			sameTree(t, before, readTree(t, outside))
			if got := modes(t, outside); !mapsEqual(got, beforeModes) {
				t.Fatalf("outside modes %v, want %v", got, beforeModes)
			}
		})
	}
}

// replace removes whatever is at p and makes something else there.
func replace(tb testing.TB, p string, make func(p string) error) {
	tb.Helper()
	if err := os.RemoveAll(p); err != nil {
		tb.Fatal(err)
	}
	if err := make(p); err != nil {
		tb.Fatal(err)
	}
}
