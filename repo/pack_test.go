package repo_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"github.com/snapsync/snapsync/internal/golden"
	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/repotest"
	"github.com/snapsync/snapsync/verify"
)

// TestIndexEvery: a backup writes the index of its stored packs every so
// many packs, before its commit, so a backup killed late keeps what it
// stored then: a new process finds those chunks, and only those.
func TestIndexEvery(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := &repotest.Memory{}
	opts := &repo.Options{PackSize: 200 << 10} // three 64 KiB chunks a pack
	r, err := repo.OpenOrCreate(ctx, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	repo.SetIndexEvery(r, 2)
	rng := rand.NewChaCha8([32]byte{7})
	var ds []verify.Digest
	for range 12 {
		data := make([]byte, 64<<10)
		_, _ = rng.Read(data) // never fails
		d := verify.Sum(data)
		ds = append(ds, d)
		if _, err := r.PutChunk(ctx, d, data); err != nil {
			t.Fatal(err)
		}
	}
	// Killed here: three packs stored (the first two indexed), one open.
	again, err := repo.Open(ctx, b, opts)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, d := range ds {
		ok, err := again.HasChunk(ctx, d)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			found++
		}
	}
	if found != 6 {
		t.Fatalf("a new process finds %d chunks of a killed backup, want the 6 of its first two packs", found)
	}
}

// TestFormat2Golden stores two chunks, one raw and one compressed, and
// compares the objects written (the config, the pack, the index) byte for
// byte with testdata/format2.golden, so a change to the format is a visible
// diff.
func TestFormat2Golden(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	b := &repotest.Memory{}
	r, err := repo.OpenOrCreate(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, data := range [][]byte{[]byte("a small chunk, stored raw"), bytes.Repeat([]byte("a compressible chunk "), 40)} {
		if _, err := r.PutChunk(ctx, verify.Sum(data), data); err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for key, err := range b.List(ctx, "") {
		if err != nil {
			t.Fatal(err)
		}
		rc, err := b.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s (%d bytes)\n%s\n", key, len(data), hex.Dump(data))
	}
	golden.Check(t, "testdata/format2.golden", out.Bytes())
}

// BenchmarkPutChunk stores incompressible 1 MiB chunks into a repository in
// memory, each format: format 2 packs them and compresses none (its sample
// does not compress), format 1 compresses each whole to find it does not pay.
func BenchmarkPutChunk(b *testing.B) {
	for _, format := range []int{repo.Format1, repo.Format2} {
		b.Run(fmt.Sprintf("format%d", format), func(b *testing.B) {
			ctx := context.Background()
			r, err := repo.OpenOrCreate(ctx, &repotest.Memory{}, &repo.Options{Format: format})
			if err != nil {
				b.Fatal(err)
			}
			data := make([]byte, 1<<20)
			rng := rand.NewChaCha8([32]byte{9})
			_, _ = rng.Read(data) // never fails
			b.SetBytes(int64(len(data)))
			for b.Loop() {
				_, _ = rng.Read(data[:8]) // never fails; a new chunk each time
				if _, err := r.PutChunk(ctx, verify.Sum(data), data); err != nil {
					b.Fatal(err)
				}
			}
			if err := r.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		})
	}
}

// gated is a Backend whose pack uploads wait until release is closed.
type gated struct {
	repo.Backend
	release chan struct{}
}

func (g *gated) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if strings.HasPrefix(key, "packs/") {
		<-g.release
	}
	return g.Backend.Put(ctx, key, r, size)
}

// TestPacksFullUnderContention adds chunks from eight goroutines while the
// first pack uploads are held: adds wait for an upload slot and then must
// find the pack they were about to seal sealed already by another, not seal
// the next one with a chunk or two in it. Every pack but the last is full.
func TestPacksFullUnderContention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	g := &gated{Backend: &repotest.Memory{}, release: make(chan struct{})}
	r, err := repo.OpenOrCreate(ctx, g, &repo.Options{PackSize: 200 << 10}) // three 64 KiB chunks a pack
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 48)
	for w := range 8 {
		wg.Go(func() {
			rng := rand.NewChaCha8([32]byte{byte(w)})
			for range 6 {
				data := make([]byte, 64<<10)
				_, _ = rng.Read(data) // never fails
				_, err := r.PutChunk(ctx, verify.Sum(data), data)
				errs <- err
			}
		})
	}
	for range 4 { // a few chunks in, then let the uploads go
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	close(g.release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := r.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, err := range g.List(ctx, "packs/") {
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if n != 16 {
		t.Fatalf("48 chunks in %d packs, want 16 of three", n)
	}
}
