package repo

import (
	"bytes"
	"context"
	"errors"
	"io"
	"iter"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snapsync/snapsync/verify"
)

// fakeBackend serves objects whose size and body a test chooses: the body
// may be longer or shorter than the size Stat reports, change from one Get
// to the next, or be a stream of zeros that costs no memory.
type fakeBackend struct {
	mu   sync.Mutex
	objs map[string]fakeObject
	gets map[string]int
}

type fakeObject struct {
	size int64                   // what Stat says
	body func(get int) io.Reader // the body of the get-th Get, from 0
}

var _ Backend = (*fakeBackend)(nil)

func newFake() *fakeBackend {
	return &fakeBackend{objs: map[string]fakeObject{}, gets: map[string]int{}}
}

func (f *fakeBackend) set(key string, size int64, body func(get int) io.Reader) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objs[key] = fakeObject{size: size, body: body}
}

func (f *fakeBackend) Get(_ context.Context, key string) (io.ReadCloser, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objs[key]
	if !ok {
		return nil, ErrNotFound
	}
	n := f.gets[key]
	f.gets[key]++
	return io.NopCloser(o.body(n)), nil
}

func (f *fakeBackend) Put(_ context.Context, key string, r io.Reader, size int64) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	f.set(key, size, func(int) io.Reader { return bytes.NewReader(b) })
	return nil
}

func (f *fakeBackend) ReadAt(ctx context.Context, key string, p []byte, off int64) error {
	rc, err := f.Get(ctx, key)
	if err != nil {
		return err
	}
	if _, err := io.CopyN(io.Discard, rc, off); err != nil {
		return io.ErrUnexpectedEOF
	}
	_, err = io.ReadFull(rc, p)
	return err
}

func (f *fakeBackend) List(context.Context, string) iter.Seq2[string, error] {
	return func(func(string, error) bool) {}
}

func (f *fakeBackend) Delete(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objs, key)
	return nil
}

func (f *fakeBackend) Stat(_ context.Context, key string) (int64, time.Time, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	o, ok := f.objs[key]
	if !ok {
		return 0, time.Time{}, ErrNotFound
	}
	return o.size, time.Time{}, nil
}

func (f *fakeBackend) getCount(key string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.gets[key]
}

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func bytesBody(b []byte) func(int) io.Reader {
	return func(int) io.Reader { return bytes.NewReader(b) }
}

// testManifest returns a small valid manifest's encoding and ID.
func testManifest(tb testing.TB) ([]byte, verify.Digest) {
	tb.Helper()
	m := &verify.Manifest{
		Meta:      verify.Meta{Term: 1, Index: 2, Engine: "pebble"},
		ChunkSize: verify.MinChunkSize,
		Files: []verify.File{{Path: "a.sst", Size: 3, Mode: 0o644, LinkTo: -1,
			Chunks: []verify.Chunk{{Length: 3, Digest: verify.Sum([]byte("abc"))}}}},
	}
	b, err := m.Encode()
	if err != nil {
		tb.Fatal(err)
	}
	return b, verify.Sum(b)
}

func openFake(tb testing.TB, f *fakeBackend) *Repo {
	tb.Helper()
	r, err := OpenOrCreate(context.Background(), f, nil)
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestManifestStreamed reads a 256 MiB garbage manifest object: Manifest
// refuses it (digest mismatch) having allocated a few MiB, not the object
// (io.ReadAll of it once allocated more than twice its size).
func TestManifestStreamed(t *testing.T) {
	f := newFake()
	r := openFake(t, f)
	id := verify.Sum([]byte("the snapshot"))
	const size = 256 << 20
	f.set(ManifestKey(id), size, func(int) io.Reader { return io.LimitReader(zeros{}, size) })
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := r.Manifest(context.Background(), id)
	runtime.ReadMemStats(&after)
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("Manifest of %d MiB of zeros: %v; %d KiB allocated", size>>20, err, alloc>>10)
	if !errors.Is(err, ErrCorrupt) || !errors.Is(err, verify.ErrDigestMismatch) {
		t.Errorf("Manifest = %v, want a digest mismatch matching ErrCorrupt", err)
	}
	if alloc > 8<<20 {
		t.Errorf("Manifest allocated %d MiB for a %d MiB object, want at most 8 MiB", alloc>>20, size>>20)
	}
	if n := f.getCount(ManifestKey(id)); n != 1 {
		t.Errorf("%d reads of a manifest that does not verify, want 1: it is never decoded", n)
	}
}

// TestManifestBounds feeds Manifest objects that lie about their size or
// change between reads: each is refused, matching ErrCorrupt, and one over
// the limit is never read.
func TestManifestBounds(t *testing.T) {
	t.Parallel()
	good, id := testManifest(t)
	other := bytes.Clone(good)
	other[len(other)-1] ^= 1
	testCases := []struct {
		name  string
		size  int64
		body  func(get int) io.Reader
		want  string
		reads int // Gets expected
	}{
		{"valid", int64(len(good)), bytesBody(good), "", 2},
		{"over the limit", verify.MaxManifestSize + 1, func(int) io.Reader { panic("read") }, "over the limit", 0},
		{"longer than its size", int64(len(good)), bytesBody(append(bytes.Clone(good), "more"...)), "longer than its", 1},
		{"shorter than its size", int64(len(good)) + 10, bytesBody(good), "ended at", 1},
		{"endless stream", int64(len(good)), func(int) io.Reader { return io.MultiReader(bytes.NewReader(good), zeros{}) }, "longer than its", 1},
		{"one byte off", int64(len(good)), bytesBody(other), "digest mismatch", 1},
		{"replaced between reads", int64(len(good)), func(get int) io.Reader {
			if get == 0 {
				return bytes.NewReader(good)
			}
			return bytes.NewReader(other)
		}, "digest mismatch", 2},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake()
			r := openFake(t, f)
			f.set(ManifestKey(id), tc.size, tc.body)
			m, err := r.Manifest(context.Background(), id)
			switch {
			case tc.want == "" && (err != nil || m.Files[0].Path != "a.sst"):
				t.Errorf("Manifest = %v, %v; want the manifest", m, err)
			case tc.want != "" && (!errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("Manifest = %v, want ErrCorrupt naming %q", err, tc.want)
			}
			if n := f.getCount(ManifestKey(id)); n != tc.reads {
				t.Errorf("%d Gets, want %d", n, tc.reads)
			}
		})
	}
}

// TestOpenManifestWithholdsLast reads a manifest that does not verify in
// small pieces: every byte but the last read's comes through, then the
// error; a valid one reads whole, then io.EOF.
func TestOpenManifestWithholdsLast(t *testing.T) {
	t.Parallel()
	good, id := testManifest(t)
	bad := bytes.Clone(good)
	bad[0] ^= 1
	for _, tc := range []struct {
		name string
		body []byte
		ok   bool
	}{{"valid", good, true}, {"damaged", bad, false}} {
		f := newFake()
		r := openFake(t, f)
		f.set(ManifestKey(id), int64(len(tc.body)), bytesBody(tc.body))
		rc, size, err := r.OpenManifest(context.Background(), id)
		if err != nil || size != int64(len(good)) {
			t.Fatalf("%s: OpenManifest = %d, %v", tc.name, size, err)
		}
		var got []byte
		buf := make([]byte, 7)
		for {
			n, err := rc.Read(buf)
			got = append(got, buf[:n]...)
			if err == io.EOF && tc.ok && bytes.Equal(got, good) {
				break
			}
			if err != nil {
				if tc.ok || !errors.Is(err, verify.ErrDigestMismatch) || len(got) >= len(bad) {
					t.Fatalf("%s: read %d of %d bytes, then %v", tc.name, len(got), len(tc.body), err)
				}
				break
			}
		}
		rc.Close()
	}
}
