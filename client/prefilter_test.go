package client

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/chunker"
	"github.com/snapsync/snapsync/verify"
)

// randBytes returns n pseudo-random bytes of seed.
func randBytes(seed uint64, n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for k := 0; k < 8 && i+k < n; k++ {
			b[i+k] = byte(v >> (8 * k))
		}
	}
	return b
}

// manifestOf is a manifest of files (path → content) at testChunkSize.
func manifestOf(tb testing.TB, files map[string][]byte, names []string) *verify.Manifest {
	tb.Helper()
	m := &verify.Manifest{ChunkSize: testChunkSize}
	for _, name := range names {
		chunks, n, err := chunker.Digests(context.Background(), bytes.NewReader(files[name]), testChunkSize)
		if err != nil {
			tb.Fatal(err)
		}
		m.Files = append(m.Files, verify.File{Path: name, Size: n, Mode: 0o644, LinkTo: -1, Chunks: chunks})
	}
	return m
}

// writeFiles writes files (path → content) below root with mode 0644.
func writeFiles(tb testing.TB, root string, files map[string][]byte) int64 {
	tb.Helper()
	var n int64
	for name, b := range files {
		if err := os.WriteFile(filepath.Join(root, name), b, 0o644); err != nil {
			tb.Fatal(err)
		}
		n += int64(len(b))
	}
	return n
}

// TestPrefilter plans a manifest of three 4-chunk files (and a grown log)
// against local trees of various likeness, and checks what planning read
// and what the plan reuses, places and fetches.
func TestPrefilter(t *testing.T) {
	t.Parallel()
	const cs = testChunkSize
	leader := map[string][]byte{
		"000001.sst": randBytes(1, 4*cs),
		"000002.sst": randBytes(2, 4*cs+100),
		"000003.sst": randBytes(3, 4*cs),
		"000004.log": randBytes(4, 5*cs+7),
	}
	names := []string{"000001.sst", "000002.sst", "000003.sst", "000004.log"}
	total := int64(0)
	for _, b := range leader {
		total += int64(len(b))
	}
	foreign := map[string][]byte{}
	for i, name := range names {
		foreign[name] = randBytes(uint64(100+i), len(leader[name]))
	}
	testCases := []struct {
		name   string
		local  map[string][]byte
		verify bool // Config.VerifyLocal: no prefilter
		// want
		read   func(localBytes int64) int64
		placed int // files placed whole
		reuse  int64
	}{
		{
			name:  "foreign DB: one chunk a file",
			local: foreign,
			read:  func(int64) int64 { return 4 * cs },
		},
		{
			name:   "foreign DB, verify-local: every byte",
			local:  foreign,
			verify: true,
			read:   func(n int64) int64 { return n },
		},
		{
			name:   "exact copies: placed whole",
			local:  leader,
			read:   func(n int64) int64 { return n },
			placed: 4,
		},
		{
			name: "grown log: its prefix reused, the foreign SST read one chunk",
			local: map[string][]byte{
				"000004.log": leader["000004.log"][:3*cs],
				"000001.sst": foreign["000001.sst"],
			},
			read:  func(int64) int64 { return 3*cs + cs },
			reuse: 3 * cs,
		},
		{
			name: "a renamed copy: placed whole",
			local: map[string][]byte{
				"000009.sst": leader["000003.sst"],
			},
			read:   func(n int64) int64 { return n },
			placed: 1,
		},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			root := t.TempDir()
			localBytes := writeFiles(t, root, tc.local)
			m := manifestOf(t, leader, names)
			done, complete := make([][]bool, len(m.Files)), make([]bool, len(m.Files))
			need := neededDigests(m, done, complete)
			want := need
			if tc.verify {
				want = nil
			}
			idx, err := indexTrees(context.Background(), []localTree{{root: root, fromDest: true}}, cs, want, need, nil, zerolog.Nop())
			if err != nil {
				t.Fatal(err)
			}
			if got := idx.read; got != tc.read(localBytes) {
				t.Errorf("read %d local bytes, want %d (of %d)", got, tc.read(localBytes), localBytes)
			}
			p := makePlan(m, done, complete, idx, func(string) bool { return true }, DefaultFileModeMask, func(int) string { return "" })
			if len(p.place) != tc.placed {
				t.Errorf("placed %d files whole, want %d", len(p.place), tc.placed)
			}
			if got := p.reuseBytes(); got != tc.reuse {
				t.Errorf("reuse %d bytes, want %d", got, tc.reuse)
			}
			if got := p.placedBytes + p.reuseBytes() + p.fetchBytes(); got != total {
				t.Errorf("plan covers %d bytes, want %d", got, total)
			}
		})
	}
}

// TestPrefilterLargeFileSplit checks that a file of many hash ranges is
// hashed whole and right when its ranges are spread over the workers.
func TestPrefilterLargeFileSplit(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	data := randBytes(7, 2*hashRange+3*testChunkSize+5)
	writeFiles(t, root, map[string][]byte{"big.sst": data})
	want, _, err := chunker.Digests(context.Background(), bytes.NewReader(data), testChunkSize)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := indexTrees(context.Background(), []localTree{{root: root, fromDest: true}}, testChunkSize, nil, nil, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if idx.read != int64(len(data)) {
		t.Fatalf("read %d bytes, want %d", idx.read, len(data))
	}
	for _, fs := range idx.byContent {
		got := fs[0].chunks
		if len(got) != len(want) {
			t.Fatalf("%d chunks, want %d", len(got), len(want))
		}
		for k := range want {
			if got[k] != want[k] {
				t.Fatalf("chunk %d differs", k)
			}
		}
		return
	}
	t.Fatal("file not indexed")
}
