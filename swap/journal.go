package swap

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

// MaxJournalSize bounds the journal read from disk before it is decoded.
const MaxJournalSize = 8 << 10

const (
	journalMagic   = "snapsync-swap-journal"
	journalVersion = 1
	// setJournalVersion is the version of a set's journal (ReplaceSet).
	setJournalVersion = 2
)

// Mode is how a replace moves the trees.
type Mode uint8

// The modes of a replace.
const (
	// ModeExchange swaps dest and staged with one atomic exchange; the old
	// tree ends at staged's path.
	ModeExchange Mode = iota + 1
	// ModeRename renames staged to dest, which did not exist.
	ModeRename
	// ModePair renames dest to a sibling old path, then staged to dest.
	ModePair
)

var modeNames = [...]string{ModeExchange: "exchange", ModeRename: "rename", ModePair: "pair"}

// String returns the mode's name as written in the journal.
func (m Mode) String() string {
	if m == 0 || int(m) >= len(modeNames) {
		return fmt.Sprintf("Mode(%d)", m)
	}
	return modeNames[m]
}

func parseMode(s string) (Mode, bool) {
	for m, name := range modeNames {
		if m != 0 && s == name {
			return Mode(m), true
		}
	}
	return 0, false
}

// Journal is what a replace records before the swap becomes visible, with
// every path absolute. Recover reads it back through ReadJournal.
type Journal struct {
	Mode   Mode
	Dest   string // the destination directory
	Staged string // where the new tree was staged
	// Old is where the old tree is once the replace has rolled forward: Staged
	// for ModeExchange, a sibling of Dest for ModePair, "" for ModeRename.
	Old      string
	StagedID FileID // the staged root directory
	DestID   FileID // the old root at Dest; zero for ModeRename
	// Entries is set for the journal of a set (ReplaceSet): Dest is then the
	// directory whose entries are replaced, Staged the directory the new
	// entries were staged in, Old where the old entries are once the set has
	// rolled forward (Staged after exchanges, the park directory after the
	// journaled pairs), and StagedID and DestID are zero.
	Entries []Entry

	path string // the journal file itself
}

// journalRecord is a journal's record on disk: record (version 1, one
// directory) or setRecord (version 2, a set of entries).
type journalRecord interface {
	// validate reports every way the record breaks the layout rules,
	// wrapped in ErrBadJournal.
	validate() error
	// journalRel is where the record says its journal file is, relative to
	// the root.
	journalRel() string
	// toJournal resolves the record against root.
	toJournal(root string) Journal
	// usePair switches the record to the journaled pair and returns the old
	// path it then names, relative to the root.
	usePair() string
	// encode validates the record and renders it as a journal of its version.
	encode() ([]byte, error)
}

// encodeRecord validates r and renders it as a journal of version.
func encodeRecord(version int, r journalRecord) ([]byte, error) {
	if err := r.validate(); err != nil {
		return nil, err
	}
	return encodeJournal(version, r)
}

// decodeValid decodes an untrusted journal of version into r and validates it.
func decodeValid(b []byte, version int, r journalRecord) error {
	if err := decodeJournal(b, version, r); err != nil {
		return err
	}
	return r.validate()
}

// encodeJournal renders v as the three lines of a journal of version.
func encodeJournal(version int, v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("marshal journal: %w", err)
	}
	b := fmt.Appendf(nil, "%s %d\n%s\n", journalMagic, version, body)
	sum := verify.Sum(b)
	return fmt.Appendf(b, "sha256 %s\n", sum), nil
}

// journalVersionOf returns the version an untrusted journal's header names.
func journalVersionOf(b []byte) int {
	line, _, _ := bytes.Cut(b, []byte("\n"))
	for _, v := range []int{journalVersion, setJournalVersion} {
		if string(line) == fmt.Sprintf("%s %d", journalMagic, v) {
			return v
		}
	}
	return 0
}

// decodeJournal checks the framing of an untrusted journal of version and
// decodes its record into v, strictly (known fields only).
func decodeJournal(b []byte, version int, v any) error {
	bad := func(why string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrBadJournal, fmt.Sprintf(why, args...))
	}
	if len(b) > MaxJournalSize {
		return bad("%d bytes, more than %d", len(b), MaxJournalSize)
	}
	lines := bytes.SplitAfter(b, []byte("\n"))
	if len(lines) != 4 || len(lines[3]) != 0 {
		return bad("not three lines")
	}
	if string(lines[0]) != fmt.Sprintf("%s %d\n", journalMagic, version) {
		return bad("unknown header %q", strings.TrimSpace(string(lines[0])))
	}
	if err := checkSum(lines); err != nil {
		return bad("%v", err)
	}
	if err := durable.DecodeJSON(lines[1], v); err != nil {
		return bad("decode: %v", err)
	}
	return nil
}

func checkSum(lines [][]byte) error {
	sumHex, ok := strings.CutPrefix(strings.TrimSuffix(string(lines[2]), "\n"), "sha256 ")
	if !ok {
		return errors.New("no checksum line")
	}
	want, err := hex.DecodeString(sumHex)
	if err != nil || len(want) != verify.DigestSize {
		return errors.New("malformed checksum")
	}
	got := verify.Sum(append(append([]byte(nil), lines[0]...), lines[1]...))
	if !bytes.Equal(want, got[:]) {
		return errors.New("checksum mismatch")
	}
	return nil
}
