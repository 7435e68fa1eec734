package server

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strconv"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// TestScaleBuild measures what building (and persisting) a manifest costs
// the server at a scale set by the environment, never in a normal run:
//
//	SNAPSYNC_SCALE_FILES=N  N empty files in N/1024 dirs (at least 1)
//	SNAPSYNC_SCALE_CHUNKS=N sparse files giving N chunks of 4 KiB
//	SNAPSYNC_SCALE_DIR      where to make the trees (default: a temp dir)
//
// It reports the build's wall time, the peak Go heap seen while it ran and
// the process's peak RSS (docs/DESIGN.md invariant 5).
func TestScaleBuild(t *testing.T) {
	files, _ := strconv.Atoi(os.Getenv("SNAPSYNC_SCALE_FILES"))
	chunks, _ := strconv.Atoi(os.Getenv("SNAPSYNC_SCALE_CHUNKS"))
	if files <= 0 && chunks <= 0 {
		t.Skip("set SNAPSYNC_SCALE_FILES or SNAPSYNC_SCALE_CHUNKS")
	}
	base := os.Getenv("SNAPSYNC_SCALE_DIR")
	if base == "" {
		base = t.TempDir()
	}
	if files > 0 {
		root := filepath.Join(base, fmt.Sprintf("empty-%d", files))
		makeEmptyTree(t, root, files)
		scaleRun(t, fmt.Sprintf("%d empty files", files), root, verify.MinChunkSize)
	}
	if chunks > 0 {
		root := filepath.Join(base, fmt.Sprintf("sparse-%d", chunks))
		makeSparseTree(t, root, int64(chunks)*verify.MinChunkSize)
		scaleRun(t, fmt.Sprintf("%d chunks", chunks), root, verify.MinChunkSize)
	}
}

func scaleRun(t *testing.T, what, root string, chunkSize int) {
	runtime.GC()
	stop := watchHeap()
	start := time.Now()
	n, size := scaleBuild(t, root, chunkSize)
	took := time.Since(start)
	heap := stop()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: build %v, %d files, manifest %d bytes, peak heap %d MiB, peak RSS %d MiB",
		what, took.Round(time.Millisecond), n, size, heap>>20, ru.Maxrss>>10)
}

// watchHeap samples the live heap until the returned func is called, which
// returns the highest sample.
func watchHeap() func() uint64 {
	done, peak := make(chan struct{}), make(chan uint64)
	go func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
		var max uint64
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			metrics.Read(s)
			max = maxU(max, s[0].Value.Uint64()+s[1].Value.Uint64())
			select {
			case <-done:
				peak <- max
				return
			case <-tick.C:
			}
		}
	}()
	return func() uint64 { close(done); return <-peak }
}

// liveHeap returns the bytes of heap objects now.
func liveHeap() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func maxU(a, b uint64) uint64 {
	if a > b {
		return a
	}
	return b
}

// makeEmptyTree makes n empty files in max(1, n/1024) dirs, unless root
// holds them already (a tree is kept between runs in SNAPSYNC_SCALE_DIR).
func makeEmptyTree(t *testing.T, root string, n int) {
	if _, err := os.Stat(root + ".done"); err == nil {
		return
	}
	dirs := max(1, n/1024)
	for d := 0; d < dirs; d++ {
		dir := filepath.Join(root, fmt.Sprintf("d%05d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		for i := d; i < n; i += dirs {
			f, err := os.Create(filepath.Join(dir, fmt.Sprintf("f%07d.sst", i)))
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
		}
	}
	if err := os.WriteFile(root+".done", nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// makeSparseTree makes sparse files of 256 MiB (the last shorter) adding up
// to total bytes.
func makeSparseTree(t *testing.T, root string, total int64) {
	if _, err := os.Stat(root + ".done"); err == nil {
		return
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := 0; total > 0; i++ {
		size := min(total, 256<<20)
		f, err := os.Create(filepath.Join(root, fmt.Sprintf("%06d.sst", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Truncate(size); err != nil {
			t.Fatal(err)
		}
		f.Close()
		total -= size
	}
	if err := os.WriteFile(root+".done", nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

// scaleBuild builds and persists the manifest of root as the server does,
// returning its file count and encoded size.
func scaleBuild(t *testing.T, root string, chunkSize int) (int, int64) {
	ctx := context.Background()
	dir := t.TempDir()
	cache := newDigestCache(filepath.Join(dir, "digests"), DefaultDigestCacheChunks)
	b, err := buildManifest(ctx, root, dir, verify.Meta{Engine: "pebble"}, chunkSize, runtime.GOMAXPROCS(0), cache, nil)
	if err != nil {
		t.Fatal(err)
	}
	cache.trim()
	if err := cache.save(); err != nil {
		t.Fatal(err)
	}
	return b.lay.Files(), b.lay.encSize
}

// TestScaleServe is TestScaleBuild through a running server: a dir source
// over the tree, CreateSnapshot (the build), GetManifest of every page and
// FetchChunks of up to 4096 chunks, the pages and chunks dropped as they
// arrive (the client here holds none of them). Run it alone (one -run) so
// the peak RSS is its own.
func TestScaleServe(t *testing.T) {
	files, _ := strconv.Atoi(os.Getenv("SNAPSYNC_SCALE_FILES"))
	chunks, _ := strconv.Atoi(os.Getenv("SNAPSYNC_SCALE_CHUNKS"))
	if files <= 0 && chunks <= 0 {
		t.Skip("set SNAPSYNC_SCALE_FILES or SNAPSYNC_SCALE_CHUNKS")
	}
	base := os.Getenv("SNAPSYNC_SCALE_DIR")
	if base == "" {
		base = t.TempDir()
	}
	root := filepath.Join(base, fmt.Sprintf("empty-%d", files))
	what := fmt.Sprintf("%d empty files", files)
	if files > 0 {
		makeEmptyTree(t, root, files)
	} else {
		root, what = filepath.Join(base, fmt.Sprintf("sparse-%d", chunks)), fmt.Sprintf("%d chunks", chunks)
		makeSparseTree(t, root, int64(chunks)*verify.MinChunkSize)
	}
	src, err := dirsource.New(root, verify.Meta{Index: 1, Engine: "pebble"})
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	stop := watchHeap()
	start := time.Now()
	ts := startServer(t, Config{Source: src, ChunkSize: verify.MinChunkSize})
	resp := ts.create(t, 0, 600_000)
	built := time.Since(start)
	id := resp.GetSnapshot().GetSnapshotId()
	size := scaleManifest(t, ts, id)
	sent := scaleFetch(t, ts, id, resp.GetLease().GetLeaseId(), int(resp.GetSnapshot().GetFileCount()))
	heap := stop()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s: CreateSnapshot %v, GetManifest %d bytes and %d chunks fetched by %v, peak heap %d MiB, peak RSS %d MiB",
		what, built.Round(time.Millisecond), size, sent, time.Since(start).Round(time.Millisecond), heap>>20, ru.Maxrss>>10)

	ts.stop()
	runtime.GC()
	left := liveHeap() // the stopped server: its test cleanup still holds it
	stop = watchHeap()
	start = time.Now()
	ts = startServer(t, ts.cfg) // reloads the checkpoint from the work dir
	loaded := time.Since(start)
	size = scaleManifest(t, ts, id)
	t.Logf("%s: restart %v (reload), GetManifest %d bytes by %v, peak heap %d MiB above the %d MiB the stopped server left",
		what, loaded.Round(time.Millisecond), size, time.Since(start).Round(time.Millisecond), (stop()-left)>>20, left>>20)
}

// scaleManifest receives every page of id's manifest, keeping none, and
// returns its size.
func scaleManifest(t *testing.T, ts *testServer, id []byte) int64 {
	st, err := ts.client.GetManifest(context.Background(), connect.NewRequest(&snapsyncv1.GetManifestRequest{SnapshotId: id}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var n int64
	for st.Receive() {
		n += int64(len(st.Msg().GetData()))
	}
	if err := st.Err(); err != nil {
		t.Fatalf("GetManifest: %v", err)
	}
	return n
}

// scaleFetch fetches up to 4096 chunks of the last files of the snapshot
// (a dir of empty files has none: then nothing) and returns how many came.
func scaleFetch(t *testing.T, ts *testServer, id []byte, lease string, files int) int {
	req := &snapsyncv1.FetchChunksRequest{SnapshotId: id, LeaseId: lease,
		Ranges: []*snapsyncv1.ChunkRange{{FileIndex: uint32(files - 1), ChunkCount: 4096}}}
	st, err := ts.client.FetchChunks(context.Background(), connect.NewRequest(req))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n := 0
	for st.Receive() {
		n++
	}
	if err := st.Err(); err != nil && connect.CodeOf(err) != connect.CodeInvalidArgument {
		t.Fatalf("FetchChunks: %v", err)
	}
	return n
}
