package client

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/chunker"
	"github.com/snapsync/snapsync/internal/testdb"
	"github.com/snapsync/snapsync/server"
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
	foreign := map[string][]byte{}      // of the leader's sizes
	foreignOther := map[string][]byte{} // of other sizes
	for i, name := range names {
		foreign[name] = randBytes(uint64(100+i), len(leader[name]))
		foreignOther[name] = randBytes(uint64(200+i), len(leader[name])+1000)
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
			name:  "foreign DB of other sizes: its SSTs unread, its log one chunk",
			local: foreignOther,
			read:  func(int64) int64 { return cs },
		},
		{
			name: "an SST of no manifest size, even a prefix of one: unread, fetched",
			local: map[string][]byte{
				"000001.sst": leader["000001.sst"][:3*cs],
			},
			read: func(int64) int64 { return 0 },
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
			pf := newPrefilter(m, want, DefaultImmutable)
			idx, err := indexTrees(context.Background(), []localTree{{root: root, fromDest: true}}, cs, pf, need, nil, zerolog.Nop())
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

// treeBytes0 is the size of the regular files below root.
func treeBytes0(tb testing.TB, root string) int64 {
	tb.Helper()
	var n int64
	for _, content := range readTree(tb, root) {
		if !strings.HasPrefix(content, "<") {
			n += int64(len(content))
		}
	}
	return n
}

// TestInstallOntoUncachedDest installs a leader's snapshot onto a dest the
// follower digest cache does not know: a foreign DB (another leader's),
// whose SSTs, of no size the leader's have, are not read at all and whose
// other files are read one chunk a file; an exact copy, placed whole from
// candidates hashed while the rest is fetched; and the foreign DB with
// VerifyLocal, read whole. Each install is exact.
func TestInstallOntoUncachedDest(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 4<<20)
	ts := startServer(t, server.Config{Source: leader}, "")
	other := openLeader(t, 0)
	writeData(t, other, 7, 4<<20)
	tsOther := startServer(t, server.Config{Source: other}, "")
	testCases := []struct {
		name   string
		from   string // the dest's first install
		verify bool
		check  func(t *testing.T, res Result, destBytes, sstBytes, common int64)
	}{
		{name: "foreign", from: tsOther.url, check: func(t *testing.T, res Result, destBytes, sstBytes, _ int64) {
			// a chunk of slack: a foreign SST may have a leader SST's size by chance
			if res.LocalBytesRead > destBytes-sstBytes+testChunkSize {
				t.Errorf("read %d of the foreign dest's %d bytes (%d in SSTs), want its SSTs unread", res.LocalBytesRead, destBytes, sstBytes)
			}
		}},
		{name: "foreign, verify-local", from: tsOther.url, verify: true, check: func(t *testing.T, res Result, destBytes, _, _ int64) {
			if res.LocalBytesRead != destBytes {
				t.Errorf("read %d of the dest's %d bytes, want all", res.LocalBytesRead, destBytes)
			}
		}},
		{name: "own copy", from: ts.url, check: func(t *testing.T, res Result, _, _, common int64) {
			if common < res.BytesTotal/4 || res.BytesReused < common {
				t.Errorf("reused %d of %d bytes, %d of them in files the dest held", res.BytesReused, res.BytesTotal, common)
			}
		}},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			parent := t.TempDir()
			dest := filepath.Join(parent, "db")
			if _, err := Install(context.Background(), tc.from, 0, testConfig(t, dest)); err != nil {
				t.Fatal(err)
			}
			if err := os.Remove(filepath.Join(parent, ".snapsync-db.digests")); err != nil {
				t.Fatal(err) // as if the node had written its DB itself
			}
			destBytes := treeBytes0(t, dest)
			before := readTree(t, dest)
			var sstBytes int64
			for name, content := range before {
				if strings.HasSuffix(name, ".sst") {
					sstBytes += int64(len(content))
				}
			}
			cfg := testConfig(t, dest)
			cfg.VerifyLocal = tc.verify
			res, err := Install(context.Background(), ts.url, 0, cfg)
			if err != nil {
				t.Fatal(err)
			}
			testdb.CheckSameDB(t, leader.DB(), dest)
			var common int64 // whole files the dest already held
			for name, content := range readTree(t, dest) {
				if before[name] == content && !strings.HasPrefix(content, "<") {
					common += int64(len(content))
				}
			}
			t.Logf("dest %d bytes: read %d, fetched %d, reused %d of %d, %d in common", destBytes, res.LocalBytesRead, res.BytesFetched, res.BytesReused, res.BytesTotal, common)
			tc.check(t, res, destBytes, sstBytes, common)
		})
	}
}

// TestHeldPlan plans against a scan with candidates still to hash: the
// leaders whose first chunk a candidate has, and every job with one of
// their chunks, wait; the rest is fetched at once. Resolved, the exact copy
// is placed whole, the grown log's prefix reused, and every chunk is in
// exactly one job.
func TestHeldPlan(t *testing.T) {
	t.Parallel()
	const cs = testChunkSize
	shared := randBytes(9, cs) // a chunk both in a held leader and in one fetched at once
	leader := map[string][]byte{
		"000001.sst": randBytes(1, 4*cs),
		"000002.sst": append(append(randBytes(2, 2*cs), shared...), randBytes(22, cs)...),
		"000003.sst": append(randBytes(3, 3*cs), shared...),
		"000004.log": randBytes(4, 5*cs+7),
	}
	names := []string{"000001.sst", "000002.sst", "000003.sst", "000004.log"}
	root := t.TempDir()
	writeFiles(t, root, map[string][]byte{
		"000002.sst": leader["000002.sst"],        // an exact copy
		"000004.log": leader["000004.log"][:3*cs], // the log, before it grew
		"000001.sst": randBytes(101, 4*cs),        // foreign
	})
	m := manifestOf(t, leader, names)
	done, complete := make([][]bool, len(m.Files)), make([]bool, len(m.Files))
	need := neededDigests(m, done, complete)
	sc, err := scanLocal(context.Background(), []localTree{{root: root, fromDest: true}}, cs, &prefilter{want: need}, nil, zerolog.Nop())
	if err != nil {
		t.Fatal(err)
	}
	if len(sc.pending) != 2 {
		t.Fatalf("%d candidates, want 2 (the copy and the log)", len(sc.pending))
	}
	p := makePlanHolding(m, done, complete, sc.index(need), func(string) bool { return true }, DefaultFileModeMask,
		func(int) string { return "" }, sc.heads())
	held := map[int]bool{1: true, 3: true}
	if p.hold == nil || len(p.hold.files) != 2 || !held[p.hold.files[0]] || !held[p.hold.files[1]] {
		t.Fatalf("held %v, want leaders 1 and 3", p.hold)
	}
	for _, jb := range append(p.fetch, p.reuse...) {
		for _, tg := range jb.targets {
			if held[tg.file] {
				t.Fatalf("a job under way targets held leader %d", tg.file)
			}
		}
		if *jb.digest == verify.Sum(shared) {
			t.Fatal("the chunk shared with a held leader is under way")
		}
	}
	if got, want := p.fetchBytes(), int64(4*cs+3*cs); got != want {
		t.Fatalf("fetching %d bytes at once, want %d (leaders 0 and 2 but their shared chunk)", got, want)
	}
	sc.keep(p.hold.heads)
	if len(sc.pending) != 2 {
		t.Fatalf("%d candidates kept, want 2", len(sc.pending))
	}
	if err := sc.hashRest(context.Background()); err != nil {
		t.Fatal(err)
	}
	p.resolve(sc.index(need))
	if len(p.place) != 1 || p.place[0].file != 1 {
		t.Fatalf("placed %v, want leader 1 whole", p.place)
	}
	if got := p.reuseBytes(); got != 4*cs {
		t.Errorf("reuse %d bytes, want the log's prefix and the shared chunk (from the copy), %d", got, 4*cs)
	}
	if got, want := p.fetchBytes(), int64(2*cs+7); got != want {
		t.Errorf("then fetching %d bytes, want the log's tail, %d", got, want)
	}
	if n := p.remaining[1].Load(); n != 0 {
		t.Errorf("placed leader 1 has %d chunks to write", n)
	}
}
