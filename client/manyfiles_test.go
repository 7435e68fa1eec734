package client

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// TestManyFilesInstall measures an install of N empty files in N/1024
// directories (issue 20 point 3) against `tar | tar` + `sync -f` of the same
// tree. It runs only with SNAPSYNC_MANYFILES=N set (e.g. 131072): it is a
// measurement, not a check, and a million files take minutes. The tree is
// built once and kept under os.TempDir(). It logs the wall time of the
// install and of its phases (the server's manifest build included, up to
// the manifest-fetched hook), the process's peak heap (server included: it
// runs in this process) and the tar figure. Profile with -cpuprofile and
// -memprofile.
func TestManyFilesInstall(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("SNAPSYNC_MANYFILES"))
	if n <= 0 {
		t.Skip("set SNAPSYNC_MANYFILES=N to measure an install of N empty files")
	}
	src := manyFilesTree(t, n)
	tarTime := tarCopy(t, src)
	dsrc, err := dirsource.New(src, verify.Meta{})
	if err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, server.Config{Source: dsrc}, "")
	dest := filepath.Join(t.TempDir(), "db")
	cfg := testConfig(t, dest)
	cfg.Logger = zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.DebugLevel)
	start := time.Now()
	var marks sync.Map
	cfg.Hook = func(p string) error {
		if p == "manifest-fetched" || p == "staged" {
			marks.Store(p, time.Since(start))
		}
		return nil
	}
	peak := sampleHeap(t)
	res, err := Install(context.Background(), ts.url, 0, cfg)
	if err != nil {
		t.Fatal(err)
	}
	wall := time.Since(start)
	heap := peak()
	mf, _ := marks.Load("manifest-fetched")
	st, _ := marks.Load("staged")
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	t.Logf("files %d: install %v (manifest fetched at %v, staged at %v), tar|tar+sync %v, ratio %.2f; "+
		"peak heap in use %d MiB (server included), total alloc %d MiB, mallocs %d",
		res.Files, wall.Round(time.Millisecond), mf, st, tarTime.Round(time.Millisecond),
		wall.Seconds()/tarTime.Seconds(), heap>>20, ms.TotalAlloc>>20, ms.Mallocs)
}

// manyFilesTree returns a tree of n empty files in n/1024 directories (at
// least one), built once under os.TempDir().
func manyFilesTree(t *testing.T, n int) string {
	t.Helper()
	root := filepath.Join(os.TempDir(), fmt.Sprintf("snapsync-manyfiles-%d", n))
	done := root + ".done"
	if _, err := os.Stat(done); err == nil {
		return root
	}
	if err := os.RemoveAll(root); err != nil {
		t.Fatal(err)
	}
	dirs := max(n/1024, 1)
	for i := range n {
		d := filepath.Join(root, fmt.Sprintf("d%04d", i%dirs))
		if i < dirs {
			mkdirAll(t, d)
		}
		f, err := os.Create(filepath.Join(d, fmt.Sprintf("f%07d", i)))
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(done, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	return root
}

// tarCopy times `tar -C src -cf - . | tar -C dst -xf -` then `sync -f dst`.
func tarCopy(t *testing.T, src string) time.Duration {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "tar")
	mkdirAll(t, dst)
	start := time.Now()
	cmd := exec.Command("sh", "-c", `tar -C "$1" -cf - . | tar -C "$2" -xf - && sync -f "$2"`, "sh", src, dst)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	d := time.Since(start)
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	return d
}

// sampleHeap samples the heap in use every 10 ms until the returned function
// is called, which returns the peak.
func sampleHeap(t *testing.T) func() uint64 {
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(stop); <-done }) })
	return func() uint64 {
		once.Do(func() { close(stop); <-done })
		return peak.Load()
	}
}
