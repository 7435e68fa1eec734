package repotest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snapsync/snapsync/repo"
)

// RunBackend runs the contract of the repo.Backend interface, as its docs
// state it, as subtests of t. newBackend returns an empty backend for one
// subtest; subtests run in parallel.
func RunBackend(t *testing.T, newBackend func(t *testing.T) repo.Backend) {
	for name, test := range map[string]func(*testing.T, repo.Backend){
		"Missing":         testBackendMissing,
		"RoundTrip":       testBackendRoundTrip,
		"Overwrite":       testBackendOverwrite,
		"ShortPut":        testBackendShortPut,
		"LongPut":         testBackendLongPut,
		"List":            testBackendList,
		"ListStopsEarly":  testBackendListStop,
		"Delete":          testBackendDelete,
		"ConcurrentPuts":  testBackendConcurrentPuts,
		"Large":           testBackendLarge,
		"ReadEndsWithCtx": testBackendReadCanceled,
		"ReadAt":          testBackendReadAt,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			test(t, newBackend(t))
		})
	}
}

// put stores data at key, failing the test on an error.
func put(t *testing.T, b repo.Backend, key string, data []byte) {
	t.Helper()
	if err := b.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put(%s): %v", key, err)
	}
}

// get returns the object at key, or the error Get or a read returned.
func get(b repo.Backend, key string) ([]byte, error) {
	rc, err := b.Get(context.Background(), key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// wantObject fails t unless key holds data, by Get and by Stat.
func wantObject(t *testing.T, b repo.Backend, key string, data []byte) {
	t.Helper()
	got, err := get(b, key)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("Get(%s) = %q, %v; want %q", key, got, err, data)
	}
	size, mod, err := b.Stat(context.Background(), key)
	if err != nil || size != int64(len(data)) || mod.IsZero() {
		t.Fatalf("Stat(%s) = %d, %v, %v; want %d bytes and a time", key, size, mod, err, len(data))
	}
}

// wantMissing fails t unless Get and Stat of key report repo.ErrNotFound.
func wantMissing(t *testing.T, b repo.Backend, key string) {
	t.Helper()
	if _, err := get(b, key); !errors.Is(err, repo.ErrNotFound) {
		t.Fatalf("Get(%s) = %v; want repo.ErrNotFound", key, err)
	}
	if _, _, err := b.Stat(context.Background(), key); !errors.Is(err, repo.ErrNotFound) {
		t.Fatalf("Stat(%s) = %v; want repo.ErrNotFound", key, err)
	}
}

// list returns the keys List yields for prefix, sorted: the interface
// promises no order.
func list(t *testing.T, b repo.Backend, prefix string) []string {
	t.Helper()
	var keys []string
	for k, err := range b.List(context.Background(), prefix) {
		if err != nil {
			t.Fatalf("List(%q): %v", prefix, err)
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// testBackendMissing: an absent key, at the top or below a directory that
// does or does not exist, or below an object, is repo.ErrNotFound to Get and
// Stat.
func testBackendMissing(t *testing.T, b repo.Backend) {
	put(t, b, "dir/present", []byte("x"))
	for _, key := range []string{"absent", "dir/absent", "nodir/absent", "dir/present/below"} {
		wantMissing(t, b, key)
	}
	if keys := list(t, b, "absent"); len(keys) != 0 {
		t.Fatalf("List(absent) = %q; want nothing", keys)
	}
}

// testBackendRoundTrip: what Put stores, Get returns and Stat sizes; an
// empty object is an object.
func testBackendRoundTrip(t *testing.T, b repo.Backend) {
	put(t, b, "a/b/c.json", []byte(`{"x":1}`))
	wantObject(t, b, "a/b/c.json", []byte(`{"x":1}`))
	put(t, b, "empty", nil)
	wantObject(t, b, "empty", nil)
}

// testBackendOverwrite: Put replaces an object whole, longer or shorter.
func testBackendOverwrite(t *testing.T, b repo.Backend) {
	put(t, b, "k", []byte("first version"))
	put(t, b, "k", []byte("second, longer version"))
	wantObject(t, b, "k", []byte("second, longer version"))
	put(t, b, "k", []byte("3rd"))
	wantObject(t, b, "k", []byte("3rd"))
}

// testBackendShortPut: a reader that ends before size bytes fails the Put,
// which leaves no object, and no object in place of the old one.
func testBackendShortPut(t *testing.T, b repo.Backend) {
	ctx := context.Background()
	if err := b.Put(ctx, "new", strings.NewReader("short"), 100); err == nil {
		t.Fatal("Put of 5 bytes as 100 succeeded")
	}
	wantMissing(t, b, "new")
	put(t, b, "old", []byte("the old object"))
	if err := b.Put(ctx, "old", strings.NewReader("short"), 100); err == nil {
		t.Fatal("Put of 5 bytes as 100 succeeded")
	}
	wantObject(t, b, "old", []byte("the old object"))
}

// testBackendLongPut: a reader with more than size bytes fails the Put, as
// the interface documents (exactly size bytes), and leaves the old object.
func testBackendLongPut(t *testing.T, b repo.Backend) {
	ctx := context.Background()
	put(t, b, "old", []byte("the old object"))
	if err := b.Put(ctx, "old", strings.NewReader("longer than five"), 5); err == nil {
		t.Fatal("Put of 16 bytes as 5 succeeded")
	}
	wantObject(t, b, "old", []byte("the old object"))
	if err := b.Put(ctx, "new", strings.NewReader("longer than five"), 5); err == nil {
		t.Fatal("Put of 16 bytes as 5 succeeded")
	}
	wantMissing(t, b, "new")
}

// testBackendList: List yields every key that starts with the prefix, a
// directory's or any string's, and nothing else.
func testBackendList(t *testing.T, b repo.Backend) {
	if keys := list(t, b, ""); len(keys) != 0 {
		t.Fatalf("List of an empty backend = %q", keys)
	}
	all := []string{"a/1", "a/2", "a/sub/3", "a/sub/deeper/4", "ab/5", "abc", "b/6"}
	for _, k := range all {
		put(t, b, k, []byte(k))
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", all},
		{"a/", all[:4]},
		{"a/sub/", all[2:4]},
		{"a/sub", all[2:4]},
		{"a", all[:6]},
		{"ab", all[4:6]},
		{"a/1", all[:1]},
		{"b/", all[6:]},
		{"c", nil},
		{"a/nosuch/", nil},
	} {
		if got := list(t, b, tc.prefix); !slices.Equal(got, tc.want) {
			t.Errorf("List(%q) = %q; want %q", tc.prefix, got, tc.want)
		}
	}
}

// testBackendListStop: a caller that stops ranging over List early stops
// it: no panic, no yield after.
func testBackendListStop(t *testing.T, b repo.Backend) {
	for _, k := range []string{"x/1", "x/2", "x/3"} {
		put(t, b, k, nil)
	}
	n := 0
	for _, err := range b.List(context.Background(), "x/") {
		if err != nil {
			t.Fatal(err)
		}
		n++
		break
	}
	if n != 1 {
		t.Fatalf("ranged %d times; want 1", n)
	}
}

// testBackendDelete: Delete removes the object from Get, Stat and List;
// deleting an absent key, again or never there, even below a directory
// that does not exist or an object, is no error.
func testBackendDelete(t *testing.T, b repo.Backend) {
	ctx := context.Background()
	put(t, b, "d/gone", []byte("x"))
	put(t, b, "d/kept", []byte("y"))
	for range 2 {
		if err := b.Delete(ctx, "d/gone"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
	}
	wantMissing(t, b, "d/gone")
	wantObject(t, b, "d/kept", []byte("y"))
	if keys := list(t, b, "d/"); !slices.Equal(keys, []string{"d/kept"}) {
		t.Fatalf("List after Delete = %q", keys)
	}
	for _, key := range []string{"never", "nodir/never", "d/kept/below"} {
		if err := b.Delete(ctx, key); err != nil {
			t.Fatalf("Delete(%s) of an absent key = %v; want nil", key, err)
		}
	}
}

// testBackendConcurrentPuts: puts of one key at once (two backups
// uploading one chunk) all succeed and leave one of them, whole.
func testBackendConcurrentPuts(t *testing.T, b repo.Backend) {
	data := bytes.Repeat([]byte("chunk "), 10_000)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range cap(errs) {
		wg.Go(func() {
			errs <- b.Put(context.Background(), "chunks/ab/same", bytes.NewReader(data), int64(len(data)))
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	wantObject(t, b, "chunks/ab/same", data)
	if keys := list(t, b, "chunks/"); !slices.Equal(keys, []string{"chunks/ab/same"}) {
		t.Fatalf("List = %q; want the one key", keys)
	}
}

// largeSize is bigger than S3 clients' first multipart size (16 MiB).
const largeSize = 20 << 20

// testBackendLarge streams 20 MiB of random bytes in and out: Stat sizes
// it and Get returns it byte for byte, compared by hash.
func testBackendLarge(t *testing.T, b repo.Backend) {
	ctx := context.Background()
	src := io.LimitReader(rand.NewChaCha8([32]byte{1}), largeSize)
	in := sha256.New()
	if err := b.Put(ctx, "large", io.TeeReader(src, in), largeSize); err != nil {
		t.Fatal(err)
	}
	if size, _, err := b.Stat(ctx, "large"); err != nil || size != largeSize {
		t.Fatalf("Stat = %d, %v; want %d", size, err, largeSize)
	}
	rc, err := b.Get(ctx, "large")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	out := sha256.New()
	if n, err := io.Copy(out, rc); err != nil || n != largeSize {
		t.Fatalf("read %d bytes, %v; want %d", n, err, largeSize)
	}
	if !bytes.Equal(in.Sum(nil), out.Sum(nil)) {
		t.Fatal("read back other bytes than were put")
	}
}

// testBackendReadCanceled cancels a Get's context half-way through a read:
// the read ends with an error (the context's, or its cause) well before the
// end, and a Get with an ended context fails.
func testBackendReadCanceled(t *testing.T, b repo.Backend) {
	const size = 8 << 20
	put(t, b, "big", make([]byte, size))
	cause := errors.New("SIGTERM")
	ctx, cancel := context.WithCancelCause(context.Background())
	rc, err := b.Get(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.ReadFull(rc, make([]byte, 4096)); err != nil {
		t.Fatal(err)
	}
	cancel(cause)
	done := make(chan error, 1)
	go func() {
		n, err := io.Copy(io.Discard, rc)
		if err == nil {
			err = errors.New("read to the end")
		}
		if n >= size-4096 {
			err = errors.Join(err, errors.New("read all after the cancel"))
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, cause) && !errors.Is(err, context.Canceled) {
			t.Fatalf("read after cancel = %v; want the context's error", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("read still running 10 s after the cancel")
	}
	if rc, err := b.Get(ctx, "big"); err == nil {
		rc.Close()
		t.Fatal("Get with an ended context succeeded")
	}
}

// testBackendReadAt reads ranges of an object: each whole range inside it,
// io.ErrUnexpectedEOF for one that runs past its end or starts beyond it,
// ErrNotFound for an absent key.
func testBackendReadAt(t *testing.T, b repo.Backend) {
	ctx := context.Background()
	data := make([]byte, 3<<20+17)
	_, _ = rand.NewChaCha8([32]byte{5}).Read(data) // never fails
	put(t, b, "packs/ab/p", data)
	for _, r := range []struct{ off, n int64 }{{0, 1}, {0, int64(len(data))}, {1 << 20, 1 << 20}, {int64(len(data)) - 5, 5}, {12345, 0}} {
		p := make([]byte, r.n)
		if err := b.ReadAt(ctx, "packs/ab/p", p, r.off); err != nil || !bytes.Equal(p, data[r.off:r.off+r.n]) {
			t.Fatalf("ReadAt(%d bytes at %d) = %v, or other bytes", r.n, r.off, err)
		}
	}
	for _, r := range []struct{ off, n int64 }{{int64(len(data)) - 5, 6}, {int64(len(data)), 1}, {int64(len(data)) + 100, 10}} {
		if err := b.ReadAt(ctx, "packs/ab/p", make([]byte, r.n), r.off); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("ReadAt(%d bytes at %d) of %d = %v, want io.ErrUnexpectedEOF", r.n, r.off, len(data), err)
		}
	}
	if err := b.ReadAt(ctx, "packs/ab/absent", make([]byte, 4), 0); !errors.Is(err, repo.ErrNotFound) {
		t.Fatalf("ReadAt of an absent key = %v, want ErrNotFound", err)
	}
}
