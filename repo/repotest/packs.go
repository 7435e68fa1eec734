package repotest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/verify"
)

// errKilled is what a killed Backend answers.
var errKilled = errors.New("killed")

// killed is a Backend whose process dies after a number of writes: every
// Put and Delete after the first n fails, as if nothing after them ran.
type killed struct {
	repo.Backend
	left atomic.Int64
}

func killAfter(b repo.Backend, n int) *killed {
	k := &killed{Backend: b}
	k.left.Store(int64(n))
	return k
}

func (k *killed) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if k.left.Add(-1) < 0 {
		return fmt.Errorf("put %s: %w", key, errKilled)
	}
	return k.Backend.Put(ctx, key, r, size)
}

func (k *killed) Delete(ctx context.Context, key string) error {
	if k.left.Add(-1) < 0 {
		return fmt.Errorf("delete %s: %w", key, errKilled)
	}
	return k.Backend.Delete(ctx, key)
}

// openSmall opens the repository on b with packs of 200 KiB: three 64 KiB
// chunks each, so a test's snapshot spans several.
func openSmall(t *testing.T, h Harness, b repo.Backend, now time.Time) *repo.Repo {
	t.Helper()
	r, err := repo.OpenOrCreate(context.Background(), b, &repo.Options{Now: func() time.Time { return now }, Format: h.Format, Key: h.Key, PackSize: 200 << 10})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tryBackup uploads and commits s as backup does, returning the first error.
func tryBackup(ctx context.Context, r *repo.Repo, s *snap) error {
	for d, b := range s.chunks {
		if _, err := r.PutChunk(ctx, d, b); err != nil {
			return err
		}
	}
	id, err := r.PutManifest(ctx, s.m)
	if err == nil {
		_, err = r.Commit(ctx, id)
	}
	return err
}

// wantOK fails t unless a fresh Repo on b lists want snapshots and verifies
// with nothing damaged and nothing out of place.
func wantOK(t *testing.T, h Harness, b repo.Backend, want int) *repo.Repo {
	t.Helper()
	r := openSmall(t, h, b, t0)
	rep, err := r.Verify(context.Background(), verify.Digest{})
	if err != nil || !rep.OK() || rep.Snapshots != want {
		t.Fatalf("Verify = %+v, %v; want %d snapshots, OK", rep, err, want)
	}
	return r
}

// testKilledMidway kills a backup after each number of writes in turn (in
// the packs, between the packs and the index, between the index and the
// commit): each leaves a repository that verifies and lists no snapshot,
// and the backup run again (a new process) completes it. A prune then
// deletes what the killed runs left and no index names.
func testKilledMidway(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	openSmall(t, h, b, t0)
	s := makeSnap(t, files(30, 512<<10, 64<<10), 100, t0)
	for n := 0; ; n++ {
		err := tryBackup(ctx, openSmall(t, h, killAfter(b, n), t0), s)
		if err == nil {
			if n < 4 {
				t.Fatalf("a backup of %d chunks made only %d writes", len(s.chunks), n)
			}
			break
		}
		if !errors.Is(err, errKilled) {
			t.Fatalf("backup killed after %d writes: %v", n, err)
		}
		wantOK(t, h, b, 0)
	}
	r := wantOK(t, h, b, 1)
	l, err := r.Latest(ctx)
	if err != nil || l.Chunks != len(s.chunks) {
		t.Fatalf("Latest = %+v, %v", l, err)
	}
	for d, data := range s.chunks {
		if got, err := r.GetChunk(ctx, d, uint32(len(data))); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("GetChunk %s: %v", d, err)
		}
	}
	res, err := r.Prune(ctx, 1, 0)
	if err != nil || len(res.Kept) != 1 {
		t.Fatalf("Prune = %+v, %v", res, err)
	}
	wantOK(t, h, b, 1)
	wantNoStrayPacks(t, r, b)
}

// wantNoStrayPacks fails t unless every pack of b holds a chunk r indexes.
func wantNoStrayPacks(t *testing.T, r *repo.Repo, b repo.Backend) {
	t.Helper()
	ctx := context.Background()
	l, err := r.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	used := make(map[string]bool)
	for _, s := range l.Snapshots {
		m, err := r.Manifest(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range m.Files {
			for _, c := range f.Chunks {
				key, _, _, err := r.Locate(ctx, c.Digest)
				if err != nil {
					t.Fatal(err)
				}
				used[key] = true
			}
		}
	}
	for key, err := range b.List(ctx, "packs/") {
		if err != nil {
			t.Fatal(err)
		}
		if !used[key] {
			t.Errorf("%s holds no chunk of a snapshot after prune", key)
		}
	}
}

// testPruneRepack checks how prune bounds its rewrites: a pack with little
// unused is kept whole, one mostly unused is repacked, a wholly unused one
// deleted; a second prune then has nothing to do.
func testPruneRepack(t *testing.T, h Harness) {
	if h.Format < repo.Format2 {
		t.Skip("format 1 has no packs")
	}
	ctx := context.Background()
	b := h.New(t)
	r := open(t, h, b, t0.Add(time.Hour)) // one pack per backup
	fs := files(40, 1<<20, 64<<10)
	backup(t, r, makeSnap(t, fs, 100, t0)) // pack 1: the SST's 16 chunks and a text chunk
	fs["db/MANIFEST-000001"] = files(41, 0, 64<<10)["db/MANIFEST-000001"]
	backup(t, r, makeSnap(t, fs, 200, t0.Add(time.Minute))) // pack 2: another text chunk
	res, err := r.Prune(ctx, 1, 0)
	if err != nil || res.Packs != 0 || res.Repacked != 0 || res.Chunks != 0 {
		t.Fatalf("Prune with one text chunk of pack 1 unused = %+v, %v; want every pack kept", res, err)
	}
	sst := bytes.Clone(fs["db/000001.sst"])
	for i := range 12 {
		sst[i*chunkSize] ^= 1 // 12 of the 16 chunks new
	}
	fs["db/000001.sst"] = sst
	c := makeSnap(t, fs, 300, t0.Add(2*time.Minute))
	backup(t, r, c)
	res, err = r.Prune(ctx, 1, 0)
	if err != nil || res.Repacked != 1 || res.Packs != 1 || res.Chunks != 13 || res.BytesRepacked < 4*chunkSize || res.BytesRepacked > 5*chunkSize {
		t.Fatalf("Prune with 13 of pack 1's 17 chunks unused = %+v, %v; want it repacked (4 chunks copied)", res, err)
	}
	if n := chunkCount(t, r); n != len(c.chunks) {
		t.Fatalf("%d chunks indexed after prune, want %d", n, len(c.chunks))
	}
	res, err = r.Prune(ctx, 1, 0)
	if err != nil || res.Packs != 0 || res.Repacked != 0 || res.Chunks != 0 {
		t.Fatalf("second Prune = %+v, %v; want nothing to do", res, err)
	}
	wantOK(t, h, b, 1)
}

// testPruneKilled kills a prune after each number of writes in turn: the
// repository verifies after each, the newest snapshot is always there, and
// the prune run again completes; no pack is left that no index names.
func testPruneKilled(t *testing.T, h Harness) {
	ctx := context.Background()
	b := h.New(t)
	r := openSmall(t, h, b, t0.Add(10*time.Hour))
	_, all := three(t, r)
	for n := 0; ; n++ {
		_, err := openSmall(t, h, killAfter(b, n), t0.Add(10*time.Hour)).Prune(ctx, 1, 0)
		if err == nil {
			break
		}
		if !errors.Is(err, errKilled) {
			t.Fatalf("prune killed after %d writes: %v", n, err)
		}
		dropLocks(t, b) // gone stale: its holder was killed
		r := openSmall(t, h, b, t0)
		rep, err := r.Verify(ctx, verify.Digest{})
		if err != nil || !rep.OK() {
			t.Fatalf("Verify after a prune killed after %d writes = %+v, %v", n, rep, err)
		}
		if l, err := r.Latest(ctx); err != nil || l.ID != all[2] {
			t.Fatalf("Latest after a prune killed after %d writes = %v, %v", n, l.ID, err)
		}
	}
	r = wantOK(t, h, b, 1)
	res, err := r.Prune(ctx, 1, 0)
	if err != nil || res.Packs != 0 || res.Chunks != 0 || res.Manifests != 0 {
		t.Fatalf("Prune after a completed prune = %+v, %v; want nothing to do", res, err)
	}
	wantNoStrayPacks(t, r, b)
}

// testDamagedPacks damages a format-2 repository the ways a disk or a
// hostile writer can: a truncated pack, a missing pack, an index object
// that does not verify. Each names what it damaged; prune deletes nothing
// beside an index object that is none.
func testDamagedPacks(t *testing.T, h Harness) {
	if h.Format < repo.Format2 {
		t.Skip("format 1 has no packs")
	}
	ctx := context.Background()
	b := h.New(t)
	r := openSmall(t, h, b, t0)
	s := makeSnap(t, files(50, 512<<10, 0), 100, t0)
	id := backup(t, r, s)
	var cut, gone verify.Digest
	var cutKey string
	for d := range s.chunks {
		key, off, n, err := r.Locate(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case cutKey == "":
			cut, cutKey = d, key
			stored := read(t, b, key)
			h.Overwrite(t, b, key, stored[:off+n/2])
		case key != cutKey && gone.IsZero():
			gone = d
			if err := b.Delete(ctx, key); err != nil {
				t.Fatal(err)
			}
		}
	}
	_, err := r.GetChunk(ctx, cut, uint32(len(s.chunks[cut])))
	var ce *repo.ChunkError
	if !errors.As(err, &ce) || ce.Digest != cut || !strings.Contains(err.Error(), cut.String()) {
		t.Fatalf("GetChunk from a truncated pack = %v, want a *ChunkError naming %s", err, cut)
	}
	_, err = r.GetChunk(ctx, gone, uint32(len(s.chunks[gone])))
	if !errors.Is(err, repo.ErrNotFound) || !strings.Contains(err.Error(), gone.String()) {
		t.Fatalf("GetChunk from a missing pack = %v, want ErrNotFound naming %s", err, gone)
	}
	rep, err := r.Verify(ctx, verify.Digest{})
	if err != nil || len(rep.Damaged) != 1 || rep.Damaged[0].ID != id ||
		!errors.Is(rep.Damaged[0].Chunks[cut], repo.ErrCorrupt) || !errors.Is(rep.Damaged[0].Chunks[gone], repo.ErrNotFound) {
		t.Fatalf("Verify = %+v, %v; want both chunks of the snapshot damaged", rep, err)
	}
	bad := "index/" + verify.Sum([]byte("no index")).String()
	if err := b.Put(ctx, bad, strings.NewReader("garbage"), 7); err != nil {
		t.Fatal(err)
	}
	rep, err = r.Verify(ctx, verify.Digest{})
	if err != nil || len(rep.Problems) != 1 || rep.Problems[0].Key != bad {
		t.Fatalf("Verify beside a garbage index object = %+v, %v; want it named", rep, err)
	}
	// A chunk in no index, beside a damaged one: the error names it.
	other := verify.Sum([]byte("a chunk no index names"))
	if _, err := r.GetChunk(ctx, other, 22); !errors.Is(err, repo.ErrNotFound) || !strings.Contains(err.Error(), bad) {
		t.Fatalf("GetChunk of a chunk in no index beside a damaged one = %v, want ErrNotFound naming %s", err, bad)
	}
	before := allKeys(t, b)
	if _, err := r.Prune(ctx, 1, 0); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("Prune beside a garbage index object = %v, want a refusal naming it", err)
	}
	if after := allKeys(t, b); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("a refused Prune changed the repository: %q, was %q", after, before)
	}
}

// dropLocks deletes every lock, as if each had gone stale.
func dropLocks(t *testing.T, b repo.Backend) {
	t.Helper()
	for key, err := range b.List(context.Background(), "locks/") {
		if err == nil {
			err = b.Delete(context.Background(), key)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
}

// testTwinPacks backs up from two processes at once chunks packed alike:
// the second's index lists the first's packs again (the same chunks in the
// same order make the same pack). Prune counts each blob once, so it keeps
// those packs whole (it used to count them twice used, half unused, and
// repack them into a pack of the same name, which it then deleted), and
// deletes nothing a snapshot needs.
func testTwinPacks(t *testing.T, h Harness) {
	if h.Format < repo.Format2 {
		t.Skip("format 1 has no packs")
	}
	ctx := context.Background()
	b := h.New(t)
	fs := files(60, 768<<10, 0)
	a := makeSnap(t, fs, 100, t0)
	fs["db/000002.log"] = bytes.Repeat([]byte("a WAL "), 20000)
	c := makeSnap(t, fs, 101, t0.Add(time.Second))
	// Both upload before either commits, in the same order: the SST's
	// chunks, then the WAL's.
	var repos []*repo.Repo
	for _, s := range []*snap{a, c} {
		r := openSmall(t, h, b, t0)
		repos = append(repos, r)
		for _, f := range s.m.Files {
			for _, ch := range f.Chunks {
				if _, err := r.PutChunk(ctx, ch.Digest, s.chunks[ch.Digest]); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	for i, s := range []*snap{a, c} {
		id, err := repos[i].PutManifest(ctx, s.m)
		if err == nil {
			_, err = repos[i].Commit(ctx, id)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	r := openSmall(t, h, b, t0)
	res, err := r.Prune(ctx, 2, 0)
	// Of a chunk in two packs, the one in the first index object in key
	// order counts as used. Encrypted index objects are named by the hash
	// of random-nonced bytes: when the first's is first, the second's last
	// pack holds only the WAL's two small chunks used, and is repacked
	// (the SST's copies counted in the first's).
	repacked := 0
	if h.Key != nil {
		repacked = min(res.Repacked, 1)
	}
	if err != nil || res.Packs > 1 || res.Repacked != repacked || res.BytesRepacked > 1<<10 {
		t.Fatalf("Prune keeping both = %+v, %v; want no pack repacked, at most the first's last (a duplicate) deleted", res, err)
	}
	wantOK(t, h, b, 2)
}
