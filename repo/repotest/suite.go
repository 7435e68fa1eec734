package repotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/verify"
)

// Harness gives the suite fresh backends and a way around them.
type Harness struct {
	// New returns an empty backend for one test.
	New func(t *testing.T) repo.Backend
	// Overwrite replaces the stored object of key with data behind the
	// backend's back (the file, or the S3 object through another client).
	Overwrite func(t *testing.T, b repo.Backend, key string, data []byte)
	// Format is the format of the repositories the suite creates; Run sets
	// it, running the suite once for each format.
	Format int
	// Key, if set, makes the repositories the suite creates encrypted; Run
	// sets it for a third run, of encrypted format-2 repositories.
	Key *repo.Key
}

// t0 is when the suite's first checkpoint was made.
var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// Run runs the suite as subtests of t, on repositories of each format
// (format1/…, format2/…) and on encrypted ones (format2-encrypted/…).
func Run(t *testing.T, h Harness) {
	key := NewKey(t)
	for _, v := range []struct {
		name   string
		format int
		key    *repo.Key
	}{{"format1", repo.Format1, nil}, {"format2", repo.Format2, nil}, {"format2-encrypted", repo.Format2, key}} {
		t.Run(v.name, func(t *testing.T) {
			t.Parallel()
			h := h // each run its own: they run in parallel
			h.Format, h.Key = v.format, v.key
			run(t, h)
		})
	}
}

// NewKey returns a new random repository key.
func NewKey(tb testing.TB) *repo.Key {
	tb.Helper()
	k, _, err := repo.GenerateKey()
	if err != nil {
		tb.Fatal(err)
	}
	return k
}

func run(t *testing.T, h Harness) {
	for name, test := range map[string]func(*testing.T, Harness){
		"RoundTrip":          testRoundTrip,
		"Dedup":              testDedup,
		"Corrupt":            testCorrupt,
		"KilledBackup":       testKilledBackup,
		"ConcurrentBackups":  testConcurrentBackups,
		"PruneKeepLast":      testPruneKeepLast,
		"PruneKeepWithin":    testPruneKeepWithin,
		"PruneBesideBackup":  testPruneBesideBackup,
		"BackupBesidePrune":  testBackupBesidePrune,
		"StaleLockIgnored":   testStaleLock,
		"ConfigVersion":      testConfigVersion,
		"NoRepository":       testNoRepository,
		"ListProblems":       testListProblems,
		"BadKeysRefused":     testBadKeys,
		"CommitLabels":       testCommitLabels,
		"KilledMidway":       testKilledMidway,
		"PruneRepack":        testPruneRepack,
		"PruneKilled":        testPruneKilled,
		"DamagedPacks":       testDamagedPacks,
		"TwinPacks":          testTwinPacks,
		"Keys":               testKeys,
		"NamesRevealNothing": testNamesRevealNothing,
		"RotateKey":          testRotateKey,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, h)
		})
	}
}

func open(t *testing.T, h Harness, b repo.Backend, now time.Time) *repo.Repo {
	t.Helper()
	r, err := repo.OpenOrCreate(context.Background(), b, &repo.Options{Now: func() time.Time { return now }, Format: h.Format, Key: h.Key})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func testRoundTrip(t *testing.T, h Harness) {
	ctx := context.Background()
	r := open(t, h, h.New(t), t0.Add(time.Hour))
	s := makeSnap(t, files(1, 1<<20, 1<<20), 100, t0)
	id, stored, _ := upload(t, r, s)
	info, err := r.Commit(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if info.Term != 3 || info.Index != 100 || !info.Created.Equal(t0) || info.Bytes != 2<<20 || info.Chunks != len(s.chunks) || info.Labels["node"] != "om1" {
		t.Fatalf("commit info %+v", info)
	}
	if stored >= 2<<20-(1<<20)/4 {
		t.Fatalf("stored %d bytes of 2 MiB, half of it compressible text", stored)
	}
	list, err := listed(ctx, r)
	if err != nil || len(list) != 1 || !equalInfo(list[0], info) {
		t.Fatalf("List = %+v, %v; want [%+v]", list, err, info)
	}
	m, err := r.Manifest(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := m.ID(); got != id {
		t.Fatalf("manifest ID %s, want %s", got, id)
	}
	for _, f := range m.Files {
		for _, c := range f.Chunks {
			b, err := r.GetChunk(ctx, c.Digest, c.Length)
			if err != nil || !bytes.Equal(b, s.chunks[c.Digest]) {
				t.Fatalf("GetChunk %s: %v", c.Digest, err)
			}
		}
	}
	rep, err := r.Verify(ctx, verify.Digest{})
	if err != nil || !rep.OK() || rep.Snapshots != 1 || rep.Chunks != len(s.chunks) || rep.Bytes != 2<<20 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

// equalInfo compares infos as read back (times lose their location).
func equalInfo(a, b repo.SnapshotInfo) bool {
	return a.ID == b.ID && a.Index == b.Index && a.Created.Equal(b.Created) && a.BackedUp.Equal(b.BackedUp) &&
		a.Bytes == b.Bytes && a.Chunks == b.Chunks && maps.Equal(a.Labels, b.Labels)
}

func testDedup(t *testing.T, h Harness) {
	r := open(t, h, h.New(t), t0)
	fs := files(2, 2<<20, 1<<20) // 48 chunks
	a := makeSnap(t, fs, 100, t0)
	backup(t, r, a)
	// Change 2 of the SST's 32 chunks and append one: about 95% shared.
	sst := bytes.Clone(fs["db/000001.sst"])
	sst[5*chunkSize] ^= 1
	sst[20*chunkSize+7] ^= 1
	fs["db/000001.sst"] = append(sst, bytes.Repeat([]byte{9}, 1000)...)
	b := makeSnap(t, fs, 200, t0.Add(time.Minute))
	var want int64
	var fresh int
	for d, data := range b.chunks {
		if _, ok := a.chunks[d]; !ok {
			fresh++
			want += int64(len(data))
		}
	}
	_, stored, n := upload(t, r, b)
	if n != fresh || n != 3 || stored > want+int64(n) {
		t.Fatalf("second backup stored %d chunks (%d bytes), want the %d new ones (%d raw bytes)", n, stored, fresh, want)
	}
}

func testCorrupt(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	r := open(t, h, b, t0)
	fs := files(3, 512<<10, 512<<10)
	a := backup(t, r, makeSnap(t, fs, 100, t0))
	fs["db/000001.sst"] = append(fs["db/000001.sst"], 1, 2, 3)
	second := makeSnap(t, fs, 200, t0.Add(time.Minute))
	bid := backup(t, r, second)
	// A chunk both snapshots share: the first of the text file.
	var victim verify.Chunk
	for _, f := range second.m.Files {
		if f.Path == "db/MANIFEST-000001" {
			victim = f.Chunks[0]
		}
	}
	key, off, n, err := r.Locate(ctx, victim.Digest)
	if err != nil {
		t.Fatal(err)
	}
	stored := read(t, b, key)
	stored[off+n/2] ^= 0x40
	h.Overwrite(t, b, key, stored)

	_, err = r.GetChunk(ctx, victim.Digest, victim.Length)
	var ce *repo.ChunkError
	if !errors.As(err, &ce) || !errors.Is(err, repo.ErrCorrupt) || ce.Digest != victim.Digest {
		t.Fatalf("GetChunk of a flipped chunk = %v, want a *ChunkError naming %s", err, victim.Digest)
	}
	rep, err := r.Verify(ctx, verify.Digest{})
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Damaged) != 2 || rep.Chunks != len(second.chunks) {
		t.Fatalf("Verify = %+v, want both snapshots damaged, %d chunks read once", rep, len(second.chunks))
	}
	for i, want := range []verify.Digest{a, bid} {
		d := rep.Damaged[i]
		if d.ID != want || len(d.Chunks) != 1 || !errors.Is(d.Chunks[victim.Digest], repo.ErrCorrupt) {
			t.Fatalf("damage %d = %+v, want snapshot %s, chunk %s", i, d, want, victim.Digest)
		}
	}
	// A manifest that does not verify damages its snapshot alone.
	mb := read(t, b, r.LocateManifest(a))
	h.Overwrite(t, b, r.LocateManifest(a), mb[:len(mb)-1])
	if _, err := r.Manifest(ctx, a); !errors.Is(err, repo.ErrCorrupt) {
		t.Fatalf("Manifest of a truncated manifest = %v, want ErrCorrupt", err)
	}
	rep, err = r.Verify(ctx, bid)
	if err != nil || rep.Snapshots != 1 || len(rep.Damaged) != 1 || rep.Damaged[0].ID != bid {
		t.Fatalf("Verify(one) = %+v, %v", rep, err)
	}
}

func read(t *testing.T, b repo.Backend, key string) []byte {
	t.Helper()
	rc, err := b.Get(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func testKilledBackup(t *testing.T, h Harness) {
	ctx := context.Background()
	r := open(t, h, h.New(t), t0)
	s := makeSnap(t, files(4, 512<<10, 256<<10), 100, t0)
	id, _, n := upload(t, r, s) // killed before its commit
	if n != len(s.chunks) {
		t.Fatalf("first upload stored %d of %d chunks", n, len(s.chunks))
	}
	if list, err := listed(ctx, r); err != nil || len(list) != 0 {
		t.Fatalf("List after a killed backup = %v, %v; want nothing", list, err)
	}
	if _, err := r.Latest(ctx); !errors.Is(err, repo.ErrNotFound) {
		t.Fatalf("Latest = %v, want ErrNotFound", err)
	}
	id2, stored, n := upload(t, r, s) // the rerun
	if id2 != id || stored != 0 || n != 0 {
		t.Fatalf("rerun stored %d chunks (%d bytes), want none", n, stored)
	}
	if _, err := r.Commit(ctx, id); err != nil {
		t.Fatal(err)
	}
	if latest, err := r.Latest(ctx); err != nil || latest.ID != id {
		t.Fatalf("Latest = %v, %v; want %s", latest.ID, err, id)
	}
	// A commit whose chunks are not all there is refused.
	missing := makeSnap(t, files(5, 128<<10, 0), 300, t0)
	mid, err := r.PutManifest(ctx, missing.m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit(ctx, mid); !errors.Is(err, repo.ErrNotFound) {
		t.Fatalf("Commit without chunks = %v, want ErrNotFound", err)
	}
}

func testConcurrentBackups(t *testing.T, h Harness) {
	ctx := context.Background()
	r := open(t, h, h.New(t), t0)
	fs := files(6, 1<<20, 256<<10)
	a := makeSnap(t, fs, 100, t0)
	fs["db/000002.log"] = []byte("a WAL of another checkpoint")
	b := makeSnap(t, fs, 101, t0.Add(time.Second))
	var wg sync.WaitGroup
	for _, s := range []*snap{a, b} {
		wg.Go(func() {
			l, err := r.Lock(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			defer l.Unlock(ctx)
			id, _, _ := upload(t, r, s)
			if _, err := r.Commit(ctx, id); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	rep, err := r.Verify(ctx, verify.Digest{})
	if err != nil || !rep.OK() || rep.Snapshots != 2 {
		t.Fatalf("Verify after two concurrent backups = %+v, %v", rep, err)
	}
}

// chunkCount returns how many chunks the repository holds.
func chunkCount(t *testing.T, r *repo.Repo) int {
	t.Helper()
	n, err := r.CountChunks(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// three backs up three snapshots an hour apart sharing the text file.
func three(t *testing.T, r *repo.Repo) ([]*snap, []verify.Digest) {
	var snaps []*snap
	var out []verify.Digest
	for i := range 3 {
		fs := files(7, 256<<10, 256<<10)
		fs["db/000001.sst"] = files(uint64(10+i), 256<<10, 0)["db/000001.sst"]
		s := makeSnap(t, fs, uint64(100*(i+1)), t0.Add(time.Duration(i)*time.Hour))
		snaps = append(snaps, s)
		out = append(out, backup(t, r, s))
	}
	return snaps, out
}

func testPruneKeepLast(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	r := open(t, h, b, t0.Add(10*time.Hour))
	snaps, all := three(t, r)
	if _, err := r.Prune(ctx, 0, 0); err == nil {
		t.Fatal("Prune keeping nothing succeeded")
	}
	res, err := r.Prune(ctx, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(res.Kept), all[2:]) || !slices.Equal(ids(res.Dropped), all[:2]) || res.Manifests != 2 {
		t.Fatalf("Prune(1, 0) = %+v", res)
	}
	if n := chunkCount(t, r); n != len(snaps[2].chunks) || res.Chunks != 8 {
		t.Fatalf("%d chunks left (%d deleted), want %d (8 deleted)", n, res.Chunks, len(snaps[2].chunks))
	}
	rep, err := r.Verify(ctx, verify.Digest{})
	if err != nil || !rep.OK() || rep.Snapshots != 1 {
		t.Fatalf("Verify after prune = %+v, %v", rep, err)
	}
}

func testPruneKeepWithin(t *testing.T, h Harness) {
	ctx := context.Background()
	r := open(t, h, h.New(t), t0.Add(2*time.Hour+time.Minute))
	_, all := three(t, r)
	res, err := r.Prune(ctx, 0, 90*time.Minute) // the checkpoints of 1 h and 2 h ago... and now
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ids(res.Kept), all[1:]) || !slices.Equal(ids(res.Dropped), all[:1]) {
		t.Fatalf("Prune(0, 90m) = %+v", res)
	}
	list, err := listed(ctx, r)
	if err != nil || !slices.Equal(ids(list), all[1:]) {
		t.Fatalf("List after prune = %v, %v", ids(list), err)
	}
}

// testPruneBesideBackup runs a prune while a backup has uploaded chunks and
// its manifest but not committed: no committed snapshot names those chunks,
// and the prune must delete none of them.
func testPruneBesideBackup(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	r := open(t, h, b, t0.Add(time.Hour))
	old := makeSnap(t, files(8, 256<<10, 64<<10), 100, t0)
	backup(t, r, old)
	l, err := r.Lock(ctx)
	if err != nil {
		t.Fatal(err)
	}
	running := makeSnap(t, files(9, 512<<10, 64<<10), 200, t0.Add(time.Minute))
	id, _, _ := upload(t, r, running)
	before := chunkCount(t, r)
	if _, err := r.Prune(ctx, 1, 0); !errors.Is(err, repo.ErrLocked) {
		t.Fatalf("Prune beside a backup = %v, want ErrLocked", err)
	}
	if n := chunkCount(t, r); n != before {
		t.Fatalf("prune beside a backup left %d of %d chunks", n, before)
	}
	if _, err := r.Commit(ctx, id); err != nil {
		t.Fatalf("the backup's commit after the refused prune: %v", err)
	}
	if err := l.Unlock(ctx); err != nil {
		t.Fatal(err)
	}
	res, err := r.Prune(ctx, 1, 0)
	if err != nil || len(res.Dropped) != 1 {
		t.Fatalf("Prune after the backup = %+v, %v", res, err)
	}
	if rep, err := r.Verify(ctx, id); err != nil || !rep.OK() {
		t.Fatalf("Verify of the backup = %+v, %v", rep, err)
	}
}

// testBackupBesidePrune finds a prune's fresh lock when a backup starts.
func testBackupBesidePrune(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	r := open(t, h, b, t0)
	body := []byte(`{"kind":"prune"}`)
	if err := b.Put(ctx, "locks/prune-0123", bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	_, err := r.Lock(ctx)
	var le *repo.LockedError
	if !errors.As(err, &le) || le.Key != "locks/prune-0123" {
		t.Fatalf("Lock beside a prune = %v, want a *LockedError naming it", err)
	}
	n := 0
	for _, err := range b.List(ctx, "locks/") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 1 {
		t.Fatalf("%d locks after a refused Lock, want the prune's only", n)
	}
}

// testStaleLock: a lock not refreshed for StaleLock (its holder was killed)
// does not stop a prune.
func testStaleLock(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	r, err := repo.OpenOrCreate(ctx, b, &repo.Options{StaleLock: 2 * time.Second, Format: h.Format, Key: h.Key})
	if err != nil {
		t.Fatal(err)
	}
	three(t, r)
	// A backup's lock that nobody refreshes: its holder was killed.
	body := []byte(`{"kind":"backup"}`)
	if err := b.Put(ctx, "locks/backup-killed", bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Prune(ctx, 1, 0); !errors.Is(err, repo.ErrLocked) {
		t.Fatalf("Prune beside a fresh lock = %v, want ErrLocked", err)
	}
	time.Sleep(3100 * time.Millisecond) // S3 times are to the second
	if res, err := r.Prune(ctx, 1, 0); err != nil || len(res.Dropped) != 2 {
		t.Fatalf("Prune beside a stale lock = %+v, %v", res, err)
	}
}

func testConfigVersion(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	open(t, h, b, t0)
	open(t, h, b, t0) // an existing repository opens
	body := []byte(`{"version":3}`)
	if err := b.Put(ctx, "config", bytes.NewReader(body), int64(len(body))); err != nil {
		t.Fatal(err)
	}
	if _, err := repo.Open(ctx, b, nil); !errors.Is(err, repo.ErrVersion) {
		t.Fatalf("Open of a version 3 repository = %v, want ErrVersion", err)
	}
}

// testNoRepository opens an empty backend: Open refuses it and writes
// nothing; OpenOrCreate creates the repository, which Open then opens.
func testNoRepository(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	_, err := repo.Open(ctx, b, nil)
	var nr *repo.NoRepositoryError
	if !errors.As(err, &nr) || !errors.Is(err, repo.ErrNoRepository) {
		t.Fatalf("Open of an empty backend = %v, want a *repo.NoRepositoryError", err)
	}
	if keys := allKeys(t, b); len(keys) != 0 {
		t.Fatalf("Open of an empty backend wrote %q", keys)
	}
	if _, err := repo.OpenOrCreate(ctx, b, nil); err != nil {
		t.Fatal(err)
	}
	if keys := allKeys(t, b); !slices.Equal(keys, []string{"config"}) {
		t.Fatalf("OpenOrCreate wrote %q, want the config object", keys)
	}
	if _, err := repo.Open(ctx, b, nil); err != nil {
		t.Fatalf("Open after OpenOrCreate: %v", err)
	}
}

// listed returns r's snapshots; anything out of place is an error.
func listed(ctx context.Context, r *repo.Repo) ([]repo.SnapshotInfo, error) {
	l, err := r.List(ctx)
	if err == nil && len(l.Problems) > 0 {
		err = fmt.Errorf("problems: %v", l.Problems)
	}
	return l.Snapshots, err
}

// testListProblems puts objects whose names do not parse among a
// repository's: List and Verify report the stray index object and still see
// the snapshot; Prune refuses to delete anything beside it, and once it is
// gone keeps (and reports) a stray chunk.
func testListProblems(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	r := open(t, h, b, t0.Add(time.Hour))
	id := backup(t, r, makeSnap(t, files(12, 128<<10, 1<<10), 100, t0))
	put := func(key string) {
		if err := b.Put(ctx, key, strings.NewReader("stray"), 5); err != nil {
			t.Fatal(err)
		}
	}
	put("snapshots/notes.txt")
	stray := "chunks/zz/not-a-chunk"
	if h.Format >= repo.Format2 {
		stray = "packs/zz/not-a-pack"
	}
	put(stray)
	l, err := r.List(ctx)
	if err != nil || len(l.Snapshots) != 1 || l.Snapshots[0].ID != id || len(l.Problems) != 1 || l.Problems[0].Key != "snapshots/notes.txt" {
		t.Fatalf("List = %+v, %v; want the snapshot and the stray", l, err)
	}
	rep, err := r.Verify(ctx, verify.Digest{})
	if err != nil || rep.OK() || len(rep.Damaged) != 0 || len(rep.Problems) != 1 || rep.Snapshots != 1 {
		t.Fatalf("Verify = %+v, %v; want one snapshot undamaged and one problem", rep, err)
	}
	before := allKeys(t, b)
	if _, err := r.Prune(ctx, 1, 0); err == nil || !strings.Contains(err.Error(), "snapshots/notes.txt") {
		t.Fatalf("Prune beside a stray index object = %v, want a refusal naming it", err)
	}
	if after := allKeys(t, b); !slices.Equal(before, after) {
		t.Fatalf("a refused Prune changed the repository: %q, was %q", after, before)
	}
	if err := b.Delete(ctx, "snapshots/notes.txt"); err != nil {
		t.Fatal(err)
	}
	res, err := r.Prune(ctx, 1, 0)
	if err != nil || len(res.Problems) != 1 || res.Problems[0].Key != stray || res.Chunks != 0 {
		t.Fatalf("Prune = %+v, %v; want the stray chunk kept and reported", res, err)
	}
	if keys := allKeys(t, b); !slices.Contains(keys, stray) {
		t.Fatalf("Prune deleted the stray chunk: %q", keys)
	}
}

// allKeys lists every key of b, sorted.
func allKeys(t *testing.T, b repo.Backend) []string {
	t.Helper()
	var keys []string
	for k, err := range b.List(context.Background(), "") {
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func testBadKeys(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	for _, key := range []string{"", "../x", "a/../b", "/abs", "a//b", ".hidden", "a/.tmp-1", "sp ace", "a\x00b"} {
		if err := b.Put(ctx, key, bytes.NewReader(nil), 0); !errors.Is(err, repo.ErrBadKey) {
			t.Errorf("Put(%q) = %v, want ErrBadKey", key, err)
		}
		if _, err := b.Get(ctx, key); !errors.Is(err, repo.ErrBadKey) {
			t.Errorf("Get(%q) = %v, want ErrBadKey", key, err)
		}
	}
	if _, err := b.Get(ctx, "absent"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Get(absent) = %v, want ErrNotFound", err)
	}
	if _, _, err := b.Stat(ctx, "absent"); !errors.Is(err, repo.ErrNotFound) {
		t.Errorf("Stat(absent) = %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, "absent"); err != nil {
		t.Errorf("Delete(absent) = %v, want nil", err)
	}
}

// testCommitLabels checks that Commit's labels join the manifest's in the
// index object, and that a label out of bounds commits nothing.
func testCommitLabels(t *testing.T, h Harness) {
	ctx := context.Background()
	r := open(t, h, h.New(t), t0)
	id, _, _ := upload(t, r, makeSnap(t, files(9, 64<<10, 1<<10), 7, t0))
	if _, err := r.Commit(ctx, id, repo.WithLabels(map[string]string{"": "x"})); !errors.Is(err, repo.ErrBadLabel) {
		t.Fatalf("Commit with an empty key: %v, want ErrBadLabel", err)
	}
	if list, err := listed(ctx, r); err != nil || len(list) != 0 {
		t.Fatalf("after a refused commit: List = %+v, %v", list, err)
	}
	info, err := r.Commit(ctx, id, repo.WithLabels(map[string]string{"node": "om2", "why": "nightly"}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"node": "om2", "why": "nightly"}
	list, err := listed(ctx, r)
	if err != nil || len(list) != 1 || !maps.Equal(list[0].Labels, want) || !maps.Equal(info.Labels, want) {
		t.Fatalf("List = %+v, %v; want labels %v", list, err, want)
	}
	// A second backup of the same checkpoint keeps the labels given before
	// unless it gives them again.
	if _, err := r.Commit(ctx, id, repo.WithLabels(map[string]string{"why": "weekly"})); err != nil {
		t.Fatal(err)
	}
	want = map[string]string{"node": "om2", "why": "weekly"}
	if list, err := listed(ctx, r); err != nil || len(list) != 1 || !maps.Equal(list[0].Labels, want) {
		t.Fatalf("after a second commit: List = %+v, %v; want labels %v", list, err, want)
	}
}
