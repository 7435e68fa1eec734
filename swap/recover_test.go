package swap

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
)

func TestRecoverNoJournal(t *testing.T) {
	t.Parallel()
	l := newLayout(t)
	writeTree(t, l.dest, oldTree)
	outcome, err := Recover(context.Background(), l.journal, Options{})
	if err != nil || outcome != Nothing {
		t.Fatalf("got %s, %v; want nothing", outcome, err)
	}
	if got := treeName(readTree(t, l.dest)); got != "old" {
		t.Fatalf("dest is %s", got)
	}
}

// journalFor writes the journal Replace would write for mode, without
// swapping: the test then moves the trees by hand into the state to recover.
func journalFor(tb testing.TB, l layout, mode Mode) {
	tb.Helper()
	r, err := planReplace(Options{FS: durable.OS(), Journaled: mode == ModePair}, l.dest, l.staged, l.journal)
	if err != nil {
		tb.Fatal(err)
	}
	if r.j.Mode != mode {
		tb.Fatalf("planned mode %s, want %s", r.j.Mode, mode)
	}
	if err := r.writeJournal(); err != nil {
		tb.Fatal(err)
	}
}

// moves changes the disk by hand into a state to recover; old is the pair's
// old path.
type moves func(tb testing.TB, l layout, old string)

func atDest(l layout, _ string) string   { return l.dest }
func atStaged(l layout, _ string) string { return l.staged }
func atOld(_ layout, old string) string  { return old }

func renameMove(from, to func(layout, string) string) moves {
	return func(tb testing.TB, l layout, old string) {
		tb.Helper()
		if err := os.Rename(from(l, old), to(l, old)); err != nil {
			tb.Fatal(err)
		}
	}
}

func removeMove(what func(layout, string) string) moves {
	return func(tb testing.TB, l layout, old string) {
		tb.Helper()
		if err := os.RemoveAll(what(l, old)); err != nil {
			tb.Fatal(err)
		}
	}
}

// foreignMove puts an unrelated tree at what.
func foreignMove(what func(layout, string) string) moves {
	return func(tb testing.TB, l layout, old string) {
		tb.Helper()
		writeTree(tb, what(l, old), thirdTree)
	}
}

func exchanged(tb testing.TB, l layout, _ string) {
	tb.Helper()
	if err := durable.OS().Exchange(l.staged, l.dest); err != nil {
		tb.Fatal(err)
	}
}

// TestRecoverStates builds every disk state an interrupted replace can leave,
// and some it cannot, and checks what Recover makes of each.
func TestRecoverStates(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		name     string
		mode     Mode
		moves    []moves
		want     Outcome
		wantErr  error
		wantDest string
	}{
		{"exchange/not-started", ModeExchange, nil, RolledBack, nil, "old"},
		{"exchange/done", ModeExchange, []moves{exchanged}, RolledForward, nil, "new"},
		{"exchange/staged-lost-before", ModeExchange, []moves{removeMove(atStaged)}, RolledBack, nil, "old"},
		{"exchange/dest-lost", ModeExchange, []moves{removeMove(atDest)}, Nothing, ErrConflict, "missing"},
		{"exchange/dest-foreign", ModeExchange, []moves{removeMove(atDest), foreignMove(atDest)}, Nothing, ErrConflict, "third"},
		{"rename/not-started", ModeRename, nil, RolledBack, nil, "missing"},
		{"rename/done", ModeRename, []moves{renameMove(atStaged, atDest)}, RolledForward, nil, "new"},
		{"rename/staged-lost", ModeRename, []moves{removeMove(atStaged)}, RolledBack, nil, "missing"},
		{"rename/dest-foreign", ModeRename, []moves{foreignMove(atDest)}, Nothing, ErrConflict, "third"},
		{"pair/not-started", ModePair, nil, RolledBack, nil, "old"},
		{"pair/mid", ModePair, []moves{renameMove(atDest, atOld)}, RolledForward, nil, "new"},
		{"pair/mid-staged-lost", ModePair, []moves{renameMove(atDest, atOld), removeMove(atStaged)}, RolledBack, nil, "old"},
		{"pair/mid-staged-foreign", ModePair, []moves{renameMove(atDest, atOld), removeMove(atStaged), foreignMove(atStaged)},
			RolledBack, nil, "old"},
		{"pair/done", ModePair, []moves{renameMove(atDest, atOld), renameMove(atStaged, atDest)}, RolledForward, nil, "new"},
		{"pair/both-lost", ModePair, []moves{removeMove(atDest)}, Nothing, ErrConflict, "missing"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			l := newLayout(t)
			if strings.HasSuffix(tc.name, "-foreign") && !recordsBirth(t, l.base) {
				t.Skip("this filesystem records no birth time: a reused inode number looks like the old tree")
			}
			if tc.mode != ModeRename {
				writeTree(t, l.dest, oldTree)
			}
			writeTree(t, l.staged, newTree)
			journalFor(t, l, tc.mode)
			old := filepath.Join(l.base, ".db.swap-old")
			for _, m := range tc.moves {
				m(t, l, old)
			}
			outcome, err := Recover(context.Background(), l.journal, Options{})
			if outcome != tc.want || !errors.Is(err, tc.wantErr) || (err != nil) != (tc.wantErr != nil) {
				t.Fatalf("got %s, %v; want %s, %v", outcome, err, tc.want, tc.wantErr)
			}
			if got := treeName(readTree(t, l.dest)); got != tc.wantDest {
				t.Fatalf("dest is %s, want %s", got, tc.wantDest)
			}
			_, err = os.Lstat(l.journal)
			if journalLeft := err == nil; journalLeft != (tc.wantErr != nil) {
				t.Fatalf("journal left: %v, want %v", journalLeft, tc.wantErr != nil)
			}
		})
	}
}

func recordsBirth(tb testing.TB, dir string) bool {
	tb.Helper()
	info, err := durable.OS().Lstat(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return info.ID.Birth != 0
}

func TestOutcomeAndModeString(t *testing.T) {
	t.Parallel()
	testCases := []struct{ got, want string }{
		{Nothing.String(), "nothing"}, {RolledForward.String(), "rolled-forward"},
		{RolledBack.String(), "rolled-back"}, {Outcome(7).String(), "Outcome(7)"},
		{ModeExchange.String(), "exchange"}, {ModeRename.String(), "rename"}, {ModePair.String(), "pair"},
		{Mode(0).String(), "Mode(0)"}, {Mode(9).String(), "Mode(9)"},
	}
	for _, tc := range testCases {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}
