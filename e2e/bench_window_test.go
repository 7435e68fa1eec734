package e2e

// TestBenchReport's windowed-plan scenario (issue 20): a full install of a
// tree cut into 4 KiB chunks, large enough to take more than one plan
// window, with the plan made whole, in the default window and in a window
// a quarter of it: the client's peak RSS should follow the window, not the
// install.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/snapsync/snapsync/verify"
)

const (
	// windowedEnv sets the size of the windowed-plan scenario's tree
	// (default 2 GiB: 512 Ki chunks of 4 KiB; 0 turns it off).
	windowedEnv = "SNAPSYNC_BENCH_WINDOWED"
	// windowedChunk is its chunk size, the smallest a manifest allows: the
	// most chunks for the bytes.
	windowedChunk = verify.MinChunkSize
	// defaultWindow is client.Config's default PlanWindow.
	defaultWindow = 1 << 18
)

// windowedTree makes (once per size, cached under the temp dir) a tree of
// size random bytes in files of 64 MiB, as SSTs are.
func windowedTree(tb testing.TB, size int64) string {
	tb.Helper()
	root := filepath.Join(os.TempDir(), "snapsync-bench-windowed-"+strconv.FormatInt(size, 10))
	tree := filepath.Join(root, "tree")
	cachedBuild(tb, root, filepath.Join(root, "ready"), func() {
		if err := os.MkdirAll(tree, 0o755); err != nil {
			tb.Fatal(err)
		}
		rng := rand.NewChaCha8([32]byte{20})
		buf := make([]byte, 1<<20)
		const per = 64 << 20
		for i := int64(0); i*per < size; i++ {
			f, err := os.Create(filepath.Join(tree, fmt.Sprintf("%06d.sst", i)))
			if err != nil {
				tb.Fatal(err)
			}
			for n := int64(0); n < min(per, size-i*per); n += int64(len(buf)) {
				_, _ = rng.Read(buf)
				if _, err := f.Write(buf[:min(int64(len(buf)), size-i*per-n)]); err != nil {
					tb.Fatal(err)
				}
			}
			if err := f.Close(); err != nil {
				tb.Fatal(err)
			}
		}
	})
	return tree
}

// windowedScenario names the scenario for a tree of size bytes.
func windowedScenario(size int64) string {
	return fmt.Sprintf("full install of %s in 4 KiB chunks (%s chunks)",
		humanize.IBytes(uint64(size)), humanize.Comma(size/windowedChunk))
}

// windowedContender names the install planned in windows of window chunks
// for a tree of size bytes.
func windowedContender(size int64, window int) string {
	n := (size/windowedChunk + int64(window) - 1) / int64(window)
	if n <= 1 {
		return "snapsync, plan made whole (--plan-window " + strconv.Itoa(window) + ")"
	}
	return fmt.Sprintf("snapsync, %d plan windows of %s chunks", n, humanize.Comma(int64(window)))
}

// windowed installs a tree of SNAPSYNC_BENCH_WINDOWED bytes served with 4
// KiB chunks, one round, with the plan made whole, in the default window,
// and in a quarter of it.
func (h *harness) windowed() {
	h.windowedSize = envInt64(h.t, windowedEnv, 2<<30)
	if h.windowedSize == 0 {
		return
	}
	start := time.Now()
	tree := windowedTree(h.t, h.windowedSize)
	srv := runServe(h.t, "dir:"+tree, "--chunk-size", strconv.Itoa(windowedChunk), "--compression", "none",
		"--work-dir", filepath.Join(filepath.Dir(tree), "serve-work"))
	defer srv.stop()
	sc := windowedScenario(h.windowedSize)
	for _, w := range []int{verify.MaxTotalChunks, defaultWindow, defaultWindow / 4} {
		d := h.dest()
		h.add(sc, windowedContender(h.windowedSize, w), h.windowedSize,
			h.snapsyncURL(srv, srv.URL, d, "--plan-window", strconv.Itoa(w)))
		h.remove(d)
	}
	h.t.Logf("%s: in %v", sc, time.Since(start))
}

// envInt64 reads a size (a count of bytes, or humanize's units: 2GiB) from
// name, or def; 0 is allowed.
func envInt64(tb testing.TB, name string, def int64) int64 {
	s := os.Getenv(name)
	if s == "" {
		return def
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		tb.Fatalf("%s=%q: %v", name, s, err)
	}
	return int64(n)
}
