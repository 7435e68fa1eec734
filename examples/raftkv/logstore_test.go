package raftkv

import (
	"bytes"
	"errors"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// openTestLogStore opens a log store in dir, closed when the test ends.
func openTestLogStore(tb testing.TB, dir string) *logStore {
	tb.Helper()
	s, err := openLogStore(dir, zerolog.Nop())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := s.close(); err != nil {
			tb.Error(err)
		}
	})
	return s
}

func testEntry(index uint64) *raft.Log {
	return &raft.Log{
		Index: index, Term: index / 10, Type: raft.LogCommand,
		Data: []byte{byte(index), 'd'}, Extensions: []byte("ext"),
		AppendedAt: time.Unix(1700000000, int64(index)),
	}
}

func TestLogStoreEntries(t *testing.T) {
	t.Parallel()
	s := openTestLogStore(t, t.TempDir())
	checkEdges(t, s, 0, 0)
	if err := s.GetLog(1, new(raft.Log)); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("get from an empty log: %v, want ErrLogNotFound", err)
	}
	var batch []*raft.Log
	for i := uint64(5); i <= 300; i++ {
		batch = append(batch, testEntry(i))
	}
	if err := s.StoreLogs(batch); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLog(testEntry(301)); err != nil {
		t.Fatal(err)
	}
	checkEdges(t, s, 5, 301)
	for _, i := range []uint64{5, 255, 256, 301} {
		var got raft.Log
		if err := s.GetLog(i, &got); err != nil {
			t.Fatalf("get %d: %v", i, err)
		}
		if want := testEntry(i); !reflect.DeepEqual(&got, want) {
			t.Fatalf("entry %d: got %+v, want %+v", i, got, *want)
		}
	}
	if err := s.DeleteRange(5, 255); err != nil {
		t.Fatal(err)
	}
	checkEdges(t, s, 256, 301)
	if err := s.GetLog(255, new(raft.Log)); !errors.Is(err, raft.ErrLogNotFound) {
		t.Fatalf("get a deleted entry: %v, want ErrLogNotFound", err)
	}
	if err := s.DeleteRange(290, ^uint64(0)); err != nil {
		t.Fatal(err)
	}
	checkEdges(t, s, 256, 289)
}

func checkEdges(tb testing.TB, s *logStore, first, last uint64) {
	tb.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		tb.Fatal(err)
	}
	l, err := s.LastIndex()
	if err != nil {
		tb.Fatal(err)
	}
	if f != first || l != last {
		tb.Fatalf("log spans %d-%d, want %d-%d", f, l, first, last)
	}
}

func TestLogStoreStable(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "log")
	s, err := openLogStore(dir, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	// Raft tells a missing key apart by this exact text.
	if _, err := s.Get([]byte("LastVoteCand")); err == nil || err.Error() != "not found" {
		t.Fatalf("get missing: %v, want \"not found\"", err)
	}
	if _, err := s.GetUint64([]byte("CurrentTerm")); err == nil || err.Error() != "not found" {
		t.Fatalf("get missing uint64: %v, want \"not found\"", err)
	}
	if err := s.Set([]byte("LastVoteCand"), []byte("n2")); err != nil {
		t.Fatal(err)
	}
	if err := s.SetUint64([]byte("CurrentTerm"), 7); err != nil {
		t.Fatal(err)
	}
	if err := s.StoreLog(testEntry(1)); err != nil {
		t.Fatal(err)
	}
	if err := s.Set([]byte("short"), []byte{1}); err != nil {
		t.Fatal(err)
	}
	if err := s.close(); err != nil {
		t.Fatal(err)
	}

	s = openTestLogStore(t, dir)
	if v, err := s.Get([]byte("LastVoteCand")); err != nil || !bytes.Equal(v, []byte("n2")) {
		t.Fatalf("after reopen: %q, %v", v, err)
	}
	if v, err := s.GetUint64([]byte("CurrentTerm")); err != nil || v != 7 {
		t.Fatalf("after reopen: %d, %v", v, err)
	}
	if _, err := s.GetUint64([]byte("short")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("a 1-byte integer: %v, want ErrCorrupt", err)
	}
	checkEdges(t, s, 1, 1)
}

func TestLogCodec(t *testing.T) {
	t.Parallel()
	testCases := []*raft.Log{
		testEntry(9),
		{Index: 1, Term: 1, Type: raft.LogNoop},
		{Index: 2, Term: 3, Type: raft.LogConfiguration, Data: bytes.Repeat([]byte{7}, 300)},
	}
	for _, want := range testCases {
		var got raft.Log
		if err := decodeLog(want.Index, encodeLog(want), &got); err != nil {
			t.Fatalf("decode %+v: %v", want, err)
		}
		if !reflect.DeepEqual(&got, want) {
			t.Fatalf("got %+v, want %+v", got, *want)
		}
	}
}

func TestLogCodecRefused(t *testing.T) {
	t.Parallel()
	good := encodeLog(&raft.Log{Term: 1, Data: []byte("abc")})
	testCases := []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short header", good[:logHeaderSize-1]},
		{"no data length", good[:logHeaderSize]},
		{"data beyond entry", append(good[:logHeaderSize:logHeaderSize], 9, 'a')},
		{"overlong varint", append(good[:logHeaderSize:logHeaderSize], bytes.Repeat([]byte{0xff}, 11)...)},
		{"no extensions length", good[:len(good)-1]},
		{"trailing", append(append([]byte(nil), good...), 0)},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if err := decodeLog(1, tc.b, new(raft.Log)); !errors.Is(err, ErrCorrupt) {
				t.Fatalf("got %v, want ErrCorrupt", err)
			}
		})
	}
}

func FuzzDecodeLog(f *testing.F) {
	f.Add(encodeLog(testEntry(3)))
	f.Add(encodeLog(&raft.Log{Term: 1, Type: raft.LogNoop}))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80})
	f.Fuzz(func(t *testing.T, b []byte) {
		var l raft.Log
		if err := decodeLog(1, b, &l); err != nil {
			return
		}
		var again raft.Log
		if err := decodeLog(1, encodeLog(&l), &again); err != nil || !reflect.DeepEqual(&again, &l) {
			t.Fatalf("round trip: got %+v, %v; want %+v", again, err, l)
		}
	})
}
