package swap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/internal/golden"
)

// TestReplaceRefuses checks Replace refuses a bad layout or a pending journal
// before writing anything.
func TestReplaceRefuses(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name      string
		journaled bool
		prepare   func(tb testing.TB, l *layout)
		want      error
	}{
		{"pending journal", false, func(tb testing.TB, l *layout) { writeFile(tb, l.journal, "x") }, ErrPending},
		{"staged missing", false, func(tb testing.TB, l *layout) { l.staged += "-none" }, ErrBadLayout},
		{"staged a file", false, func(tb testing.TB, l *layout) {
			l.staged = filepath.Join(l.staging, "file")
			writeFile(tb, l.staged, "x")
		}, ErrBadLayout},
		{"dest a file", false, func(tb testing.TB, l *layout) {
			l.dest = filepath.Join(l.base, "dbfile")
			writeFile(tb, l.dest, "x")
		}, ErrBadLayout},
		{"staged outside root", false, func(tb testing.TB, l *layout) {
			l.staged = filepath.Join(tb.TempDir(), "stage")
			writeTree(tb, l.staged, thirdTree)
		}, ErrBadLayout},
		{"journal outside root", false, func(tb testing.TB, l *layout) {
			l.journal = filepath.Join(tb.TempDir(), "swap.journal")
		}, ErrBadLayout},
		{"journal too deep", false, func(tb testing.TB, l *layout) {
			l.journal = filepath.Join(l.staging, "deeper", "swap.journal")
		}, ErrBadLayout},
		{"journal inside staged", false, func(tb testing.TB, l *layout) {
			l.journal = filepath.Join(l.staged, "swap.journal")
		}, ErrBadLayout},
		{"staged inside dest", false, func(tb testing.TB, l *layout) {
			l.staged = filepath.Join(l.dest, "snap")
		}, ErrBadLayout},
		{"staged is dest", false, func(tb testing.TB, l *layout) { l.staged = l.dest }, ErrBadLayout},
		{"old path taken", true, func(tb testing.TB, l *layout) {
			writeFile(tb, filepath.Join(l.base, ".db.swap-old"), "x")
		}, ErrBadLayout},
	}
	for _, tc := range testCases {
		t.Run(strings.ReplaceAll(tc.name, " ", "-"), func(t *testing.T) {
			t.Parallel()
			l := newLayout(t)
			writeTree(t, l.dest, oldTree)
			writeTree(t, l.staged, newTree)
			tc.prepare(t, &l)
			var log bytes.Buffer
			o := Options{FS: durable.WithLogging(durable.OS(), &log, l.base), Journaled: tc.journaled}
			_, err := Replace(context.Background(), l.dest, l.staged, l.journal, o)
			if !errors.Is(err, tc.want) || errors.Is(err, ErrInterrupted) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			if strings.Contains(log.String(), "write-file") {
				t.Fatalf("refused replace wrote:\n%s", log.String())
			}
		})
	}
}

func writeFile(tb testing.TB, p, content string) {
	tb.Helper()
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// TestReplaceCancelled checks a cancelled context stops Replace before the
// swap: before the journal nothing is written; at before-swap the journal is
// left and Recover rolls back.
func TestReplaceCancelled(t *testing.T) {
	t.Parallel()
	cause := errors.New("node shutting down")
	for _, at := range []string{"start", "before-swap"} {
		t.Run(at, func(t *testing.T) {
			t.Parallel()
			l := setupCase(t, replaceCases[0])
			ctx, cancel := context.WithCancelCause(context.Background())
			o := Options{Hook: func(p string) error {
				if p == at {
					cancel(cause)
				}
				return nil
			}}
			if at == "start" {
				cancel(cause)
			}
			_, err := Replace(ctx, l.dest, l.staged, l.journal, o)
			if !errors.Is(err, cause) || errors.Is(err, ErrInterrupted) != (at != "start") {
				t.Fatalf("got %v", err)
			}
			want := map[string]Outcome{"start": Nothing, "before-swap": RolledBack}[at]
			if outcome, err := Recover(context.Background(), l.journal, Options{}); outcome != want || err != nil {
				t.Fatalf("recover: got %s, %v; want %s", outcome, err, want)
			}
			if got := treeName(readTree(t, l.dest)); got != "old" {
				t.Fatalf("dest is %s", got)
			}
		})
	}
}

// TestReplaceSequence replaces the same dest repeatedly in each mode, as a
// follower installing snapshot after snapshot does.
func TestReplaceSequence(t *testing.T) {
	t.Parallel()
	for _, journaled := range []bool{false, true} {
		t.Run(fmt.Sprintf("journaled=%v", journaled), func(t *testing.T) {
			t.Parallel()
			l := newLayout(t)
			ctx := context.Background()
			for i, next := range []tree{oldTree, newTree, thirdTree, oldTree} {
				writeTree(t, l.staged, next)
				stagedID, err := durable.Identify(l.staged)
				if err != nil {
					t.Fatal(err)
				}
				old, err := Replace(ctx, l.dest, l.staged, l.journal, Options{Journaled: journaled})
				if err != nil {
					t.Fatalf("replace %d: %v", i, err)
				}
				if destID, err := durable.Identify(l.dest); err != nil || destID != stagedID {
					t.Fatalf("replace %d: dest is %s, %v; want the staged tree %s", i, destID, err, stagedID)
				}
				if got, want := treeName(readTree(t, l.dest)), treeName(next); got != want {
					t.Fatalf("replace %d: dest is %s, want %s", i, got, want)
				}
				if (old == "") != (i == 0) {
					t.Fatalf("replace %d: old %q", i, old)
				}
				if old != "" {
					if err := RemoveTree(ctx, old); err != nil {
						t.Fatal(err)
					}
				}
			}
		})
	}
}

// TestExchangeUnsupportedFallsBack makes the FS report the exchange
// unsupported and checks Replace rewrites its journal for the pair and
// completes with it.
func TestExchangeUnsupportedFallsBack(t *testing.T) {
	t.Parallel()
	l := setupCase(t, replaceCases[0])
	noExchange := durable.WithHook(durable.OS(), func(op string) error {
		if strings.HasPrefix(op, "exchange ") {
			return fmt.Errorf("exchange: %w", ErrExchangeUnsupported)
		}
		return nil
	})
	var log bytes.Buffer
	old, err := Replace(context.Background(), l.dest, l.staged, l.journal,
		Options{FS: durable.WithLogging(noExchange, &log, l.base)})
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(l.base, ".db.swap-old"); old != want {
		t.Fatalf("old %s, want %s", old, want)
	}
	if got := treeName(readTree(t, l.dest)); got != "new" {
		t.Fatalf("dest is %s", got)
	}
	golden.Check(t, filepath.Join("testdata", "exchange-unsupported.golden"), log.Bytes())
}
