package client

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/verify"
)

func validState() *state {
	return &state{Version: stateVersion, SnapshotID: verify.Sum([]byte("m")).String(), Phase: phaseStaged,
		Term: 3, Index: 42, Files: 7, BytesTotal: 1 << 20, BytesFetched: 1000, BytesReused: 5,
		Staged: durable.FileID{Dev: 2049, Ino: 1234, Birth: 1700000000123456789}, Old: durable.FileID{Dev: 2049, Ino: 99}}
}

func TestStateRoundTrip(t *testing.T) {
	t.Parallel()
	want := validState()
	b, err := want.encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := decodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("decoded %+v, want %+v", got, want)
	}
}

func TestDecodeStateRejects(t *testing.T) {
	t.Parallel()
	good, err := validState().encode()
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) []byte { return []byte(strings.Replace(string(good), old, new, 1)) }
	testCases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"not JSON", []byte("staged")},
		{"array", []byte("[]")},
		{"unknown field", edit(`"version"`, `"extra": 1, "version"`)},
		{"trailing data", append(bytes2(good), []byte(`{}`)...)},
		{"other version", edit(`"version": 1`, `"version": 2`)},
		{"bad snapshot ID", edit(`"snapshot_id": "`, `"snapshot_id": "zz`)},
		{"short snapshot ID", edit(`"snapshot_id": "`+validState().SnapshotID, `"snapshot_id": "abcd`)},
		{"unknown phase", edit(`"phase": "staged"`, `"phase": "done"`)},
		{"staged without identity", edit("\"dev\": 2049,\n    \"ino\": 1234,\n    \"birth\": 1700000000123456789", "\"dev\": 0,\n    \"ino\": 0")},
		{"negative files", edit(`"files": 7`, `"files": -1`)},
		{"too many files", edit(`"files": 7`, `"files": 99999999999`)},
		{"negative bytes", edit(`"bytes_total": 1048576`, `"bytes_total": -5`)},
		{"wrong type", edit(`"index": 42`, `"index": "42"`)},
		{"too large", append(bytes2(good), make([]byte, maxStateSize)...)},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if s, err := decodeState(tc.b); !errors.Is(err, ErrStaging) {
				t.Fatalf("decodeState: %+v, %v; want ErrStaging", s, err)
			}
		})
	}
}

func bytes2(b []byte) []byte { return append([]byte(nil), b...) }

// FuzzDecodeState: whatever state.json holds, decodeState never panics, and
// what it accepts encodes back to a state it decodes to the same value.
func FuzzDecodeState(f *testing.F) {
	for _, s := range []*state{validState(), {Version: stateVersion, SnapshotID: verify.Sum(nil).String(), Phase: phaseFetching}} {
		b, err := s.encode()
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := decodeState(b)
		if err != nil {
			if !errors.Is(err, ErrStaging) {
				t.Fatalf("error %v is not ErrStaging", err)
			}
			return
		}
		again, err := s.encode()
		if err != nil {
			t.Fatalf("accepted state does not encode: %v", err)
		}
		s2, err := decodeState(again)
		if err != nil {
			t.Fatalf("re-encoded state does not decode: %v", err)
		}
		if !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip changed %+v into %+v", s, s2)
		}
		if s.id().String() != strings.ToLower(s.SnapshotID) {
			t.Fatalf("id %s, snapshot_id %q", s.id(), s.SnapshotID)
		}
	})
}
