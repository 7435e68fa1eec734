package server

import (
	"errors"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/internal/digestcache"
	"github.com/snapsync/snapsync/verify"
)

// TestLayoutPlace: place puts each file's chunk records where the encoding
// has them (a link at its group's) and refuses what the manifest limits
// refuse, from the sizes alone, before anything is written.
func TestLayoutPlace(t *testing.T) {
	t.Parallel()
	const cs = verify.MinChunkSize
	mk := func(sizes ...int64) *layout {
		l := &layout{chunkSize: cs}
		for i, s := range sizes {
			l.paths.add(strings.Repeat("f", i+1))
			l.stats.add(digestcache.Key{Size: s, ChunkSize: cs})
		}
		return l
	}
	noLinks := func(int) int { return -1 }
	l := mk(0, 2*cs+1, 2*cs+1, 5)
	fffLinksFf := func(i int) int {
		if i == 2 {
			return 1
		}
		return -1
	}
	if err := l.place(10, fffLinksFf); err != nil {
		t.Fatal(err)
	}
	// f: 24+1, ff: 24+2 then 3 records, fff: a link (8+3), ffff: 24+4 and 1 record.
	want := []int64{10 + 25, 10 + 25 + 26, 10 + 25 + 26, 10 + 25 + 26 + 3*verify.ChunkRecordSize + 11 + 28}
	for i, w := range want {
		if l.recs[i] != w {
			t.Fatalf("recs %v, want %v", l.recs, want)
		}
	}
	if size := want[3] + verify.ChunkRecordSize; l.encSize != size || l.total != 2*cs+1+5 {
		t.Fatalf("encoding %d bytes, data %d; want %d, %d", l.encSize, l.total, size, 2*cs+1+5)
	}
	for name, l := range map[string]*layout{
		"file too large":  mk(verify.MaxFileSize + 1),
		"too many chunks": mk(verify.MaxTotalChunks*cs, 1),
	} {
		if err := l.place(10, noLinks); !errors.Is(err, verify.ErrTooLarge) {
			t.Errorf("%s: %v, want ErrTooLarge", name, err)
		}
	}
	if err := mk(1).place(verify.MaxManifestSize, noLinks); !errors.Is(err, verify.ErrTooLarge) {
		t.Errorf("encoding too large: %v, want ErrTooLarge", err)
	}
}
