package swap

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/verify"
)

// FuzzDecodeRecord feeds untrusted journal bytes to the decoder: it must not
// panic, and whatever it accepts must name only paths inside its root and
// survive an encode/decode round trip unchanged. Seeds: testdata/fuzz.
func FuzzDecodeRecord(f *testing.F) {
	good, err := func() ([]byte, error) { r := validRecord(); return r.encode() }()
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	for _, b := range badJournals(f) {
		f.Add(b)
	}
	f.Fuzz(checkDecoded)
}

// FuzzDecodeSealedBody fuzzes the JSON record behind a correct checksum, which
// random bytes rarely get past, so the validation itself is exercised.
func FuzzDecodeSealedBody(f *testing.F) {
	for _, r := range []record{validRecord(), {}, {Version: 1, Mode: "rename", Dest: "..", Staged: "a/../../b"}} {
		body, err := json.Marshal(r)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) { checkDecoded(t, seal(body)) })
}

// checkDecoded checks what decodeRecord accepts: clean paths that resolve
// inside the root, dest directly in it, and a stable round trip.
func checkDecoded(t *testing.T, b []byte) {
	r, err := decodeRecord(b)
	if err != nil {
		return
	}
	for _, p := range []string{r.Journal, r.Dest, r.Staged} {
		if err := verify.ValidatePath(p); err != nil {
			t.Fatalf("accepted %q: %v", p, err)
		}
	}
	const root = "/data/root"
	j := r.toJournal(root)
	for _, p := range []string{j.Dest, j.Staged, j.Old} {
		if rel, err := filepath.Rel(root, p); p != "" && (err != nil || !filepath.IsLocal(rel)) {
			t.Fatalf("%q resolves outside the root: %s", p, rel)
		}
	}
	if strings.Contains(r.Dest, "/") || filepath.Dir(j.Dest) != root {
		t.Fatalf("dest %q not directly in the root", r.Dest)
	}
	again, err := r.encode()
	if err != nil {
		t.Fatalf("re-encode: %v", err)
	}
	if r2, err := decodeRecord(again); err != nil || *r2 != *r {
		t.Fatalf("round trip: %+v, %v; want %+v", r2, err, r)
	}
}
