package swap

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
)

// replaceCase is one path through Replace.
type replaceCase struct {
	name       string
	withDest   bool
	journaled  bool
	noExchange bool // the FS reports the exchange unsupported: Replace falls back to the pair
}

var replaceCases = []replaceCase{
	{name: "exchange", withDest: true},
	{name: "rename", withDest: false},
	{name: "pair", withDest: true, journaled: true},
	{name: "exchange-unsupported", withDest: true, noExchange: true},
}

// options returns the Options of rc's Replace over fsys.
func (rc replaceCase) options(fsys durable.StageFS) Options {
	if rc.noExchange {
		fsys = durable.WithHook(fsys, func(op string) error {
			if strings.HasPrefix(op, "exchange ") {
				return fmt.Errorf("exchange: %w", ErrExchangeUnsupported)
			}
			return nil
		})
	}
	return Options{FS: fsys, Journaled: rc.journaled}
}

// countOps returns how many FS operations a clean Replace, and a Recover
// after a crash at Replace's op k, perform.
func countOps(tb testing.TB, rc replaceCase, k int) (replaceOps, recoverOps int) {
	tb.Helper()
	l := setupCase(tb, rc)
	_, err := Replace(context.Background(), l.dest, l.staged, l.journal, rc.options(crashFS(durable.OS(), k, &replaceOps)))
	if (err != nil) != (k > 0) {
		tb.Fatalf("replace with crash at %d: %v", k, err)
	}
	if _, err := Recover(context.Background(), l.journal, Options{FS: crashFS(durable.OS(), 0, &recoverOps)}); err != nil {
		tb.Fatalf("recover: %v", err)
	}
	return replaceOps, recoverOps
}

func setupCase(tb testing.TB, rc replaceCase) layout {
	tb.Helper()
	l := newLayout(tb)
	if rc.withDest {
		writeTree(tb, l.dest, oldTree)
	}
	writeTree(tb, l.staged, newTree)
	return l
}

// TestCrashAtEveryOp stops Replace at each of its operations k = 1..N as a
// crash would (op k and everything after it fail), optionally stops the
// following Recover at each of its operations too, then recovers for real and
// checks that dest holds exactly the old or the new tree, that the other tree
// is whole where it should be, and that a second Replace succeeds.
func TestCrashAtEveryOp(t *testing.T) {
	t.Parallel()
	for _, rc := range replaceCases {
		everyCrash(t, rc.name, func(k int) (int, int) { return countOps(t, rc, k) }, func(t *testing.T, k, rk int) {
			crashAndRecover(t, rc, k, rk)
		})
	}
}

// everyCrash runs one parallel subtest, name/replace-opK/recover-opRK, for
// each operation k of a replace and each operation rk of the Recover that
// follows a crash at k (rk 0: Recover does not crash). count(k) returns how
// many operations the replace and that Recover make (k 0: no crash).
func everyCrash(t *testing.T, name string, count func(k int) (n, m int), run func(t *testing.T, k, rk int)) {
	t.Helper()
	n, _ := count(0)
	for k := 1; k <= n; k++ {
		_, m := count(k)
		for rk := 0; rk <= m; rk++ {
			t.Run(fmt.Sprintf("%s/replace-op%d/recover-op%d", name, k, rk), func(t *testing.T) {
				t.Parallel()
				run(t, k, rk)
			})
		}
	}
}

// recoverAfterCrash runs a Recover that crashes at its operation rk, unless
// rk is 0, then one for real, and returns what that one did.
func recoverAfterCrash(t *testing.T, journal string, rk int) Outcome {
	t.Helper()
	ctx := context.Background()
	if rk > 0 {
		var ops int
		if _, err := Recover(ctx, journal, Options{FS: crashFS(durable.OS(), rk, &ops)}); !errors.Is(err, errCrash) {
			t.Fatalf("recover with crash at op %d: got %v, want the crash", rk, err)
		}
	}
	outcome, err := Recover(ctx, journal, Options{})
	if err != nil {
		t.Fatalf("recover: %v", err)
	}
	return outcome
}

func crashAndRecover(t *testing.T, rc replaceCase, k, rk int) {
	l := setupCase(t, rc)
	ctx := context.Background()
	var ops int
	_, err := Replace(ctx, l.dest, l.staged, l.journal, rc.options(crashFS(durable.OS(), k, &ops)))
	if !errors.Is(err, errCrash) {
		t.Fatalf("replace: got %v, want the crash", err)
	}
	j, hasJournal, err := ReadJournal(ctx, l.journal, Options{})
	if err != nil {
		t.Fatalf("read journal: %v", err)
	}
	outcome := recoverAfterCrash(t, l.journal, rk)
	checkRecovered(t, rc, l, outcome, hasJournal, j)
	replaceAgain(t, rc, l)
}

// checkRecovered checks dest holds one whole tree, consistent with the
// outcome, and the other tree is whole where the journal says.
func checkRecovered(t *testing.T, rc replaceCase, l layout, outcome Outcome, hadJournal bool, j Journal) {
	t.Helper()
	oldName := "missing"
	if rc.withDest {
		oldName = "old"
	}
	got := treeName(readTree(t, l.dest))
	switch {
	// Nothing: Replace or a crashed Recover got as far as removing the journal.
	case got == "new" && (outcome == RolledForward || outcome == Nothing):
		if rc.withDest {
			oldAt := oldPathFor(rc, l)
			if hadJournal && j.Old != oldAt {
				t.Errorf("journal old %s, want %s", j.Old, oldAt)
			}
			if name := treeName(readTree(t, oldAt)); name != "old" {
				t.Errorf("old tree at %s is %s", oldAt, name)
			}
		}
	case got == oldName && (outcome == RolledBack || outcome == Nothing):
		if name := treeName(readTree(t, l.staged)); name != "new" {
			t.Errorf("staged tree is %s after roll back", name)
		}
	default:
		t.Fatalf("dest is %s after %s (journal present: %v)", got, outcome, hadJournal)
	}
	if again, err := Recover(context.Background(), l.journal, Options{}); err != nil || again != Nothing {
		t.Errorf("second recover: %s, %v", again, err)
	}
}

func oldPathFor(rc replaceCase, l layout) string {
	if rc.journaled || rc.noExchange {
		return filepath.Join(l.base, ".db.swap-old")
	}
	return l.staged
}

// replaceAgain checks a Replace after recovery succeeds: the staged tree again
// if dest was rolled back, else a third tree once the old one is removed.
func replaceAgain(t *testing.T, rc replaceCase, l layout) {
	t.Helper()
	ctx := context.Background()
	want := "new"
	if treeName(readTree(t, l.dest)) == "new" {
		if rc.withDest {
			if err := RemoveTree(ctx, oldPathFor(rc, l)); err != nil {
				t.Fatal(err)
			}
		}
		writeTree(t, l.staged, thirdTree)
		want = "third"
	}
	if _, err := Replace(ctx, l.dest, l.staged, l.journal, rc.options(durable.OS())); err != nil {
		t.Fatalf("second replace: %v", err)
	}
	if got := treeName(readTree(t, l.dest)); got != want {
		t.Fatalf("dest is %s after second replace, want %s", got, want)
	}
}
