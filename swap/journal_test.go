package swap

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/verify"
)

func validRecord() record {
	return record{
		Version: journalVersion, Mode: "pair", Journal: ".snapsync-db/swap.journal", Dest: "db",
		Staged: ".snapsync-db/stage", Old: ".db.swap-old",
		StagedID: FileID{Dev: 2049, Ino: 131, Birth: 1700000000123456789}, DestID: FileID{Dev: 2049, Ino: 97},
	}
}

// seal frames body as a journal with a correct checksum, so that a test
// reaches the validation behind it.
func seal(body []byte) []byte {
	b := fmt.Appendf(nil, "%s %d\n%s\n", journalMagic, journalVersion, body)
	return fmt.Appendf(b, "sha256 %s\n", verify.Sum(b))
}

func sealRecord(tb testing.TB, r record) []byte {
	tb.Helper()
	body, err := json.Marshal(r)
	if err != nil {
		tb.Fatal(err)
	}
	return seal(body)
}

func TestJournalRoundTrip(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"exchange", "rename", "pair"} {
		r := validRecord()
		r.Mode = mode
		switch mode {
		case "exchange":
			r.Old = ""
		case "rename":
			r.Old, r.DestID = "", FileID{}
		}
		b, err := r.encode()
		if err != nil {
			t.Fatalf("%s: encode: %v", mode, err)
		}
		got, err := decodeRecord(b)
		if err != nil {
			t.Fatalf("%s: decode: %v", mode, err)
		}
		if *got != r {
			t.Fatalf("%s: got %+v, want %+v", mode, *got, r)
		}
	}
}

// badJournals are journals Recover must refuse: garbage, and well-framed
// records that name paths outside their root or break the layout.
func badJournals(tb testing.TB) map[string][]byte {
	tb.Helper()
	edit := func(f func(*record)) []byte {
		r := validRecord()
		f(&r)
		return sealRecord(tb, r)
	}
	good := sealRecord(tb, validRecord())
	return map[string][]byte{
		"empty":             nil,
		"garbage":           []byte("\x00\x01 not a journal at all"),
		"wrong magic":       bytes.Replace(good, []byte(journalMagic), []byte("snapsync-swap-jurnal"), 1),
		"future version":    bytes.Replace(good, []byte(journalMagic+" 1"), []byte(journalMagic+" 2"), 1),
		"checksum mismatch": bytes.Replace(good, []byte(`"db"`), []byte(`"dc"`), 1),
		"truncated":         good[:len(good)-10],
		"extra line":        append(append([]byte(nil), good...), "more\n"...),
		"unknown field":     seal([]byte(`{"version":1,"mode":"rename","journal":"j","dest":"db","staged":"s","staged_id":{"dev":1,"ino":2},"dest_id":{"dev":0,"ino":0},"rm":"-rf"}`)),
		"trailing json":     seal([]byte(`{"version":1}{}`)),
		"escaping dest":     edit(func(r *record) { r.Dest = "../etc" }),
		"escaping staged":   edit(func(r *record) { r.Staged = ".snapsync-db/../../x" }),
		"absolute staged":   edit(func(r *record) { r.Staged = "/var/lib/db" }),
		"absolute old":      edit(func(r *record) { r.Old = "/tmp/old" }),
		"nested dest":       edit(func(r *record) { r.Dest = "a/db" }),
		"deep journal":      edit(func(r *record) { r.Journal = "a/b/swap.journal" }),
		"staged in dest":    edit(func(r *record) { r.Staged = "db/stage" }),
		"journal in staged": edit(func(r *record) { r.Journal = ".snapsync-db/swap.journal"; r.Staged = ".snapsync-db" }),
		"old is dest":       edit(func(r *record) { r.Old = "db" }),
		"old in exchange":   edit(func(r *record) { r.Mode = "exchange" }),
		"unknown mode":      edit(func(r *record) { r.Mode = "copy" }),
		"version zero":      edit(func(r *record) { r.Version = 0 }),
		"no staged id":      edit(func(r *record) { r.StagedID = FileID{} }),
		"no dest id":        edit(func(r *record) { r.DestID = FileID{} }),
		"same ids":          edit(func(r *record) { r.DestID = r.StagedID }),
		"too large":         bytes.Repeat([]byte("x"), MaxJournalSize+1),
	}
}

func TestDecodeRecordRejects(t *testing.T) {
	t.Parallel()
	for name, b := range badJournals(t) {
		if r, err := decodeRecord(b); !errors.Is(err, ErrBadJournal) {
			t.Errorf("%s: got %+v, %v; want ErrBadJournal", name, r, err)
		}
	}
}

// TestRecoverBadJournal checks Recover refuses a bad journal and touches
// nothing: not the trees, not the journal.
func TestRecoverBadJournal(t *testing.T) {
	t.Parallel()
	cases := badJournals(t)
	r := validRecord()
	r.Journal = "elsewhere/swap.journal" // valid, but not where the file is
	cases["recorded elsewhere"] = sealRecord(t, r)
	for name, b := range cases {
		t.Run(strings.ReplaceAll(name, " ", "-"), func(t *testing.T) {
			t.Parallel()
			l := newLayout(t)
			writeTree(t, l.dest, oldTree)
			writeTree(t, l.staged, newTree)
			if err := os.WriteFile(l.journal, b, 0o600); err != nil {
				t.Fatal(err)
			}
			outcome, err := Recover(context.Background(), l.journal, Options{})
			if !errors.Is(err, ErrBadJournal) || outcome != Nothing {
				t.Fatalf("got %s, %v; want ErrBadJournal", outcome, err)
			}
			checkUntouched(t, l, b)
		})
	}
}

func TestRecoverJournalNotAFile(t *testing.T) {
	t.Parallel()
	l := newLayout(t)
	if err := os.Mkdir(l.journal, 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := Recover(context.Background(), l.journal, Options{}); !errors.Is(err, ErrBadJournal) {
		t.Fatalf("got %v, want ErrBadJournal", err)
	}
}

func checkUntouched(tb testing.TB, l layout, journal []byte) {
	tb.Helper()
	if got := treeName(readTree(tb, l.dest)); got != "old" {
		tb.Errorf("dest is %s", got)
	}
	if got := treeName(readTree(tb, l.staged)); got != "new" {
		tb.Errorf("staged is %s", got)
	}
	if got, err := os.ReadFile(l.journal); err != nil || !bytes.Equal(got, journal) {
		tb.Errorf("journal changed: %v", err)
	}
}
