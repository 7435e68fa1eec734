package chunker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/golden"
	"github.com/snapsync/snapsync/verify"
)

// input returns n deterministic pseudo-random bytes (a fixed LCG), so the
// known-answer file pins chunk boundaries and digests.
func input(n int) []byte {
	b := make([]byte, n)
	x := uint32(2463534242)
	for i := range b {
		x = x*1664525 + 1013904223
		b[i] = byte(x >> 24)
	}
	return b
}

func TestKnownAnswer(t *testing.T) {
	chunks, n, err := Digests(context.Background(), bytes.NewReader(input(300<<10)), 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	fmt.Fprintf(&sb, "total %d\n", n)
	for _, c := range chunks {
		fmt.Fprintf(&sb, "%d %s\n", c.Length, c.Digest)
	}
	golden.Check(t, filepath.Join("testdata", "chunks.golden"), []byte(sb.String()))
}

func TestBoundaries(t *testing.T) {
	t.Parallel()
	const size = verify.MinChunkSize
	testCases := []struct {
		name    string
		n       int
		lengths []uint32
	}{
		{"empty", 0, nil},
		{"one byte", 1, []uint32{1}},
		{"exact", size, []uint32{size}},
		{"exact twice", 2 * size, []uint32{size, size}},
		{"tail", 2*size + 5, []uint32{size, size, 5}},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			data := input(tc.n)
			chunks, total, err := Digests(context.Background(), bytes.NewReader(data), size)
			if err != nil || total != int64(tc.n) || len(chunks) != len(tc.lengths) {
				t.Fatalf("got %d chunks, total %d, err %v", len(chunks), total, err)
			}
			off := 0
			for i, c := range chunks {
				if c.Length != tc.lengths[i] || c.Digest != verify.Sum(data[off:off+int(c.Length)]) {
					t.Fatalf("chunk %d: %+v", i, c)
				}
				off += int(c.Length)
			}
		})
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	if _, err := New(bytes.NewReader(nil), 10); err == nil {
		t.Error("accepted chunk size 10")
	}
	if _, err := New(bytes.NewReader(nil), verify.MaxChunkSize+1); err == nil {
		t.Error("accepted an oversized chunk size")
	}
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(input(100)), &failReader{boom})
	if _, _, err := Digests(context.Background(), r, verify.MinChunkSize); !errors.Is(err, boom) {
		t.Errorf("read error not propagated: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := Digests(ctx, bytes.NewReader(input(100)), verify.MinChunkSize); !errors.Is(err, context.Canceled) {
		t.Errorf("cancellation not honoured: %v", err)
	}
	if _, _, err := HashFile(context.Background(), filepath.Join(t.TempDir(), "missing"), DefaultChunkSize); err == nil {
		t.Error("HashFile of a missing file succeeded")
	}
}

type failReader struct{ err error }

func (f *failReader) Read([]byte) (int, error) { return 0, f.err }

func BenchmarkDigests(b *testing.B) {
	data := input(16 << 20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, _, err := Digests(context.Background(), bytes.NewReader(data), DefaultChunkSize); err != nil {
			b.Fatal(err)
		}
	}
}

// TestHashAt checks that hashing any split of a file's chunk ranges gives
// Digests' chunks, and that a file shorter than said is refused.
func TestHashAt(t *testing.T) {
	const cs = 64 << 10
	testCases := []struct {
		name   string
		size   int
		ranges [][2]int // [first, count)
		short  int      // bytes the reader lacks
	}{
		{name: "one range", size: 300 << 10, ranges: [][2]int{{0, 5}}},
		{name: "split", size: 300 << 10, ranges: [][2]int{{0, 1}, {1, 3}, {4, 1}}},
		{name: "exact", size: 2 * cs, ranges: [][2]int{{1, 1}, {0, 1}}},
		{name: "empty", size: 0, ranges: [][2]int{{0, 0}}},
		{name: "shrank", size: 300 << 10, ranges: [][2]int{{0, 5}}, short: 1},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			data := input(tc.size)
			want, _, err := Digests(context.Background(), bytes.NewReader(data), cs)
			if err != nil {
				t.Fatal(err)
			}
			r := bytes.NewReader(data[:tc.size-tc.short])
			got := make([]verify.Chunk, Count(int64(tc.size), cs))
			buf := make([]byte, cs)
			for _, rg := range tc.ranges {
				err = HashAt(context.Background(), r, int64(tc.size), cs, rg[0], got[rg[0]:rg[0]+rg[1]], buf)
				if err != nil {
					break
				}
			}
			if tc.short > 0 {
				if !errors.Is(err, io.ErrUnexpectedEOF) {
					t.Fatalf("err = %v, want io.ErrUnexpectedEOF", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("%d chunks, want %d", len(got), len(want))
			}
			for k := range want {
				if got[k] != want[k] {
					t.Fatalf("chunk %d = %v, want %v", k, got[k], want[k])
				}
			}
		})
	}
}
