package swap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/internal/golden"
)

// setNames is the list of a set test: om.db and db.snapshots are on both
// sides, gone only in the old set, added only in the new one, absent in
// neither. VERSION and ratis/ are not listed and must never change.
var setNames = []string{"om.db", "db.snapshots", "gone", "added", "absent"}

var (
	oldSet = map[string]tree{
		"om.db": oldTree, "db.snapshots": {"s1/": "", "s1/000005.sst": "old snapshot"},
		"gone": {"x": "only old"},
	}
	newSet = map[string]tree{
		"om.db": newTree, "db.snapshots": {"s2/": "", "s2/000011.sst": "new snapshot"},
		"added": {"y": "only new"},
	}
)

// setLayout is where a set test replaces: dir's listed entries by those of
// dir/.snapsync-replace/stage, with the journal in the staging area, as the
// client lays it out.
type setLayout struct{ dir, staging, staged, journal string }

func newSetLayout(tb testing.TB) setLayout {
	tb.Helper()
	dir := tb.TempDir()
	l := setLayout{dir: dir, staging: filepath.Join(dir, ".snapsync-replace")}
	l.staged = filepath.Join(l.staging, "stage")
	l.journal = filepath.Join(l.staging, "swap.journal")
	writeTree(tb, filepath.Join(dir, "om"), tree{"current/": "", "current/VERSION": "clusterID=c1\n"})
	writeTree(tb, filepath.Join(dir, "ratis"), tree{"log_0-10": "raft log"})
	for name, t := range oldSet {
		writeTree(tb, filepath.Join(dir, name), t)
	}
	if err := os.Mkdir(l.staging, 0o700); err != nil {
		tb.Fatal(err)
	}
	if err := os.Mkdir(l.staged, 0o700); err != nil {
		tb.Fatal(err)
	}
	for name, t := range newSet {
		writeTree(tb, filepath.Join(l.staged, name), t)
	}
	return l
}

// readSet returns the listed entries of dir.
func readSet(tb testing.TB, dir string) map[string]tree {
	tb.Helper()
	got := map[string]tree{}
	for _, n := range setNames {
		if t := readTree(tb, filepath.Join(dir, n)); t != nil {
			got[n] = t
		}
	}
	return got
}

func setName(s map[string]tree) string {
	eq := func(a, b map[string]tree) bool {
		return maps.EqualFunc(a, b, func(x, y tree) bool { return maps.Equal(x, y) })
	}
	switch {
	case eq(s, oldSet):
		return "old"
	case eq(s, newSet):
		return "new"
	}
	return fmt.Sprintf("MIX %v", s)
}

// untouched records the identity and content of dir's unlisted entries and
// returns a check that they are still the same.
func untouched(tb testing.TB, dir string) func() {
	tb.Helper()
	ids := map[string]FileID{}
	for _, p := range []string{"om", "om/current/VERSION", "ratis", "ratis/log_0-10"} {
		id, err := durable.Identify(filepath.Join(dir, p))
		if err != nil {
			tb.Fatal(err)
		}
		ids[p] = id
	}
	return func() {
		tb.Helper()
		for p, id := range ids {
			if got, err := durable.Identify(filepath.Join(dir, p)); err != nil || !got.Same(id) {
				tb.Errorf("%s changed: %v, %v", p, got, err)
			}
		}
		if b, err := os.ReadFile(filepath.Join(dir, "om/current/VERSION")); err != nil || string(b) != "clusterID=c1\n" {
			tb.Errorf("VERSION changed: %q, %v", b, err)
		}
	}
}

// TestGoldenSet records the operation order of ReplaceSet and of Recover
// after an abort at a hook point, against testdata/set-<name>.golden.
func TestGoldenSet(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name      string
		journaled bool
		abortAt   string // hook point to abort at (its first occurrence), then recover
	}{
		{name: "exchange"},
		{name: "pair", journaled: true},
		{name: "exchange-abort-entry-moved", abortAt: "entry-moved"},
		{name: "exchange-abort-after-swap", abortAt: "after-swap"},
		{name: "pair-abort-mid-swap", journaled: true, abortAt: "mid-swap"},
		{name: "pair-abort-before-cleanup", journaled: true, abortAt: "before-cleanup"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newSetLayout(t)
			var log bytes.Buffer
			o := Options{FS: durable.WithLogging(durable.OS(), &log, l.dir), Journaled: tc.journaled, Hook: func(p string) error {
				fmt.Fprintf(&log, "hook %s\n", p)
				if p == tc.abortAt {
					return errCrash
				}
				return nil
			}}
			fmt.Fprintf(&log, "-- replace set %s --\n", strings.Join(setNames, ","))
			old, err := ReplaceSet(context.Background(), l.dir, l.staged, setNames, l.journal, o)
			fmt.Fprintf(&log, "=> old %q, err %v\n", relPath(l.dir, old), errors.Is(err, ErrInterrupted))
			if tc.abortAt != "" {
				o.Hook = func(p string) error { fmt.Fprintf(&log, "hook %s\n", p); return nil }
				fmt.Fprintf(&log, "-- recover --\n")
				outcome, err := Recover(context.Background(), l.journal, o)
				if err != nil {
					t.Fatalf("recover: %v", err)
				}
				fmt.Fprintf(&log, "=> %s, set is %s\n", outcome, setName(readSet(t, l.dir)))
			}
			golden.Check(t, filepath.Join("testdata", "set-"+tc.name+".golden"), log.Bytes())
		})
	}
}

// setCase is one path through ReplaceSet.
type setCase struct {
	name       string
	journaled  bool
	noExchange bool
}

var setCases = []setCase{
	{name: "exchange"}, {name: "pair", journaled: true}, {name: "exchange-unsupported", noExchange: true},
}

func (sc setCase) options(fsys durable.StageFS) Options {
	return replaceCase{journaled: sc.journaled, noExchange: sc.noExchange}.options(fsys)
}

func (sc setCase) oldAt(l setLayout) string {
	if sc.journaled || sc.noExchange {
		return l.staged + ".swap-old"
	}
	return l.staged
}

func countSetOps(tb testing.TB, sc setCase, k int) (replaceOps, recoverOps int) {
	tb.Helper()
	l := newSetLayout(tb)
	_, err := ReplaceSet(context.Background(), l.dir, l.staged, setNames, l.journal, sc.options(crashFS(durable.OS(), k, &replaceOps)))
	if (err != nil) != (k > 0) {
		tb.Fatalf("replace set with crash at %d: %v", k, err)
	}
	if _, err := Recover(context.Background(), l.journal, Options{FS: crashFS(durable.OS(), 0, &recoverOps)}); err != nil {
		tb.Fatalf("recover: %v", err)
	}
	return replaceOps, recoverOps
}

// TestSetCrashAtEveryOp stops ReplaceSet at each of its operations, and the
// following Recover at each of its own, then recovers for real: the listed
// entries of dir must be exactly the old set or the new one, the other set
// whole where the journal says, the unlisted entries the same inodes and
// bytes, and a second ReplaceSet must succeed.
func TestSetCrashAtEveryOp(t *testing.T) {
	t.Parallel()
	for _, sc := range setCases {
		everyCrash(t, sc.name, func(k int) (int, int) { return countSetOps(t, sc, k) }, func(t *testing.T, k, rk int) {
			crashSetAndRecover(t, sc, k, rk)
		})
	}
}

func crashSetAndRecover(t *testing.T, sc setCase, k, rk int) {
	l := newSetLayout(t)
	same := untouched(t, l.dir)
	ctx := context.Background()
	var ops int
	_, err := ReplaceSet(ctx, l.dir, l.staged, setNames, l.journal, sc.options(crashFS(durable.OS(), k, &ops)))
	if !errors.Is(err, errCrash) {
		t.Fatalf("replace set: got %v, want the crash", err)
	}
	if got := setName(readSet(t, l.dir)); rk == 0 && got != "old" && got != "new" && !strings.HasPrefix(got, "MIX") {
		t.Fatalf("set before recovery: %s", got)
	}
	outcome := recoverAfterCrash(t, l.journal, rk)
	got := setName(readSet(t, l.dir))
	switch {
	case got == "new" && (outcome == RolledForward || outcome == Nothing):
		if old := setName(readSet(t, sc.oldAt(l))); old != "old" {
			t.Errorf("old set at %s is %s", sc.oldAt(l), old)
		}
	case got == "old" && (outcome == RolledBack || outcome == Nothing):
		if staged := setName(readSet(t, l.staged)); staged != "new" {
			t.Errorf("staged set is %s after roll back", staged)
		}
		if _, err := os.Lstat(l.staged + ".swap-old"); err == nil {
			t.Errorf("park directory left after roll back")
		}
	default:
		t.Fatalf("set is %s after %s", got, outcome)
	}
	same()
	if again, err := Recover(ctx, l.journal, Options{}); err != nil || again != Nothing {
		t.Errorf("second recover: %s, %v", again, err)
	}
	if got == "old" {
		if _, err := ReplaceSet(ctx, l.dir, l.staged, setNames, l.journal, sc.options(durable.OS())); err != nil {
			t.Fatalf("second replace set: %v", err)
		}
		if got := setName(readSet(t, l.dir)); got != "new" {
			t.Fatalf("set is %s after the second replace", got)
		}
		same()
	}
}

// TestReplaceSetLayout checks the arguments ReplaceSet refuses before it
// writes anything.
func TestReplaceSetLayout(t *testing.T) {
	t.Parallel()
	l := newSetLayout(t)
	testCases := []struct {
		name    string
		names   []string
		staged  string
		journal string
	}{
		{name: "nested name", names: []string{"om.db/x"}},
		{name: "dot dot", names: []string{".."}},
		{name: "name holds the staging area", names: []string{".snapsync-replace"}},
		{name: "staged outside", names: setNames, staged: t.TempDir()},
		{name: "journal too deep", names: setNames, journal: filepath.Join(l.staged, "x", "j")},
		{name: "no names"},
	}
	for _, tc := range testCases {
		staged, journal := l.staged, l.journal
		if tc.staged != "" {
			staged = tc.staged
		}
		if tc.journal != "" {
			journal = tc.journal
		}
		if _, err := ReplaceSet(context.Background(), l.dir, staged, tc.names, journal, Options{}); !errors.Is(err, ErrBadLayout) {
			t.Errorf("%s: got %v, want ErrBadLayout", tc.name, err)
		}
	}
	if got := setName(readSet(t, l.dir)); got != "old" {
		t.Fatalf("set is %s after refused replaces", got)
	}
}
