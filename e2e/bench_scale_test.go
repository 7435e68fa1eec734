package e2e

// TestBenchReport's scale scenarios (issue 20): an install onto a follower
// whose DB its own process wrote, a checkpoint of a million empty files
// against tar | tar, and the client's memory for the plan of a valid
// manifest of 4 Mi chunks.

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/dustin/go-humanize"

	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/verify"
)

const (
	// filesEnv sets the file count of the million-files scenario (default
	// 1,048,576), filesRoundsEnv its rounds (default 1: a snapsync install
	// of the full count takes minutes), planRoundsEnv the rounds of the
	// plan of 4 Mi chunks (default 1).
	filesEnv       = "SNAPSYNC_BENCH_FILES"
	filesRoundsEnv = "SNAPSYNC_BENCH_FILES_ROUNDS"
	planRoundsEnv  = "SNAPSYNC_BENCH_PLAN_ROUNDS"

	foreignScen     = "install onto a follower holding a foreign DB"
	ontoForeign     = "snapsync onto the foreign DB"
	ontoForeignKept = "snapsync onto the foreign DB, --keep-old (the OM's Commit; finalize, untimed, deletes it after)"
	ontoEmpty       = "snapsync onto an empty dest"
	filesSnapsync   = "snapsync"
	filesTar        = "tar -cf - | tar -xf - + sync"
	planScen        = "plan of a valid manifest of 4 Mi chunks (the peer refuses the first chunk request)"
	planContender   = "snapsync (plan only)"
	scaleRSSTarget  = 256 // MiB, the client's bound at scale
	filesTargetWall = 2.0
)

// envInt reads a positive integer from name, or def.
func envInt(tb testing.TB, name string, def int) int {
	tb.Helper()
	s := strings.TrimSpace(os.Getenv(name))
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(strings.ReplaceAll(s, ",", ""))
	if err != nil || n <= 0 {
		tb.Fatalf("%s=%q: want a positive integer", name, s)
	}
	return n
}

// foreignCheckpoint makes (once per size, cached under the temp dir) a
// Pebble DB of about size bytes written from other seeds than
// benchCheckpoint's, so that its SSTs share no chunk with the served
// checkpoint, and a checkpoint of it: what a follower's own process wrote.
func foreignCheckpoint(tb testing.TB, size int64) string {
	tb.Helper()
	root := filepath.Join(os.TempDir(), "snapsync-bench-foreign-"+strconv.FormatInt(size, 10))
	ckpt := filepath.Join(root, "checkpoint")
	cachedBuild(tb, root, filepath.Join(root, "ready"), func() {
		db, err := pebble.Open(filepath.Join(root, "db"), &pebble.Options{Logger: sampledb.QuietLogger{}})
		if err != nil {
			tb.Fatal(err)
		}
		defer db.Close()
		for seed := uint64(1 << 20); int64(db.Metrics().DiskSpaceUsage()) < size; seed++ {
			if _, err := sampledb.Write(context.Background(), db, sampledb.Fill{Seed: seed, Bytes: size / 4}); err != nil {
				tb.Fatal(err)
			}
			if err := db.Flush(); err != nil {
				tb.Fatal(err)
			}
		}
		if err := db.Checkpoint(ckpt, pebble.WithFlushedWAL()); err != nil {
			tb.Fatal(err)
		}
	})
	return ckpt
}

// foreignRound installs the newer checkpoint onto a copy of the foreign DB
// (cp -a and synced before the clock starts: no digest cache knows it),
// once deleting the old DB inside the clock (the command's default) and once
// keeping it as the OM's Commit does (keep_old: its Finalize deletes the old
// DB after the OM reopened the new one, here untimed), and onto an empty
// destination.
func (h *harness) foreignRound() []func() {
	onto := func(contender string, keepOld bool) func() {
		return func() {
			d := h.dest()
			h.run(exec.Command("cp", "-a", h.foreign, d))
			h.run(exec.Command("sync", "-f", d))
			if !keepOld {
				h.add(foreignScen, contender, h.newSize, h.snapsync(h.srvNew, d))
			} else {
				h.add(foreignScen, contender, h.newSize, h.snapsyncURL(h.srvNew, h.srvNew.URL, d, "--keep-old"))
				h.run(exec.Command(binary, "finalize", "--dest", d)) // the OM's Finalize, untimed
			}
			h.remove(d)
		}
	}
	return []func(){
		onto(ontoForeign, false),
		onto(ontoForeignKept, true),
		func() {
			d := h.dest()
			h.add(foreignScen, ontoEmpty, h.newSize, h.snapsync(h.srvNew, d))
			h.remove(d)
		},
	}
}

// filesScenario names the million-files scenario for n files.
func filesScenario(n int) string {
	return fmt.Sprintf("%s empty files in %s dirs", humanize.Comma(int64(n)), humanize.Comma(int64(filesDirs(n))))
}

func filesDirs(n int) int { return min(n, 1024) }

// manyFilesTree makes (once per count, cached under the temp dir) a plain
// tree of n empty files spread evenly over filesDirs(n) directories.
func manyFilesTree(tb testing.TB, n int) string {
	tb.Helper()
	root := filepath.Join(os.TempDir(), "snapsync-bench-files-"+strconv.Itoa(n))
	tree := filepath.Join(root, "tree")
	cachedBuild(tb, root, filepath.Join(root, "ready"), func() {
		dirs := filesDirs(n)
		for d := range dirs {
			if err := os.MkdirAll(filepath.Join(tree, fmt.Sprintf("d%04d", d)), 0o755); err != nil {
				tb.Fatal(err)
			}
		}
		for i := range n {
			p := filepath.Join(tree, fmt.Sprintf("d%04d", i%dirs), fmt.Sprintf("f%07d", i))
			f, err := os.OpenFile(p, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
			if err != nil {
				tb.Fatal(err)
			}
			if err := f.Close(); err != nil {
				tb.Fatal(err)
			}
		}
		if out, err := exec.Command("sync", "-f", tree).CombinedOutput(); err != nil {
			tb.Fatalf("sync: %v\n%s", err, out)
		}
	})
	return tree
}

// manyFiles installs a tree of SNAPSYNC_BENCH_FILES empty files with
// snapsync and copies it with tar | tar, alternating, for
// SNAPSYNC_BENCH_FILES_ROUNDS rounds.
func (h *harness) manyFiles() {
	h.files = envInt(h.t, filesEnv, 1<<20)
	h.filesRounds = envInt(h.t, filesRoundsEnv, 1)
	start := time.Now()
	tree := manyFilesTree(h.t, h.files)
	h.t.Logf("%s: tree ready in %v", filesScenario(h.files), time.Since(start))
	// The server's work dir (its digest cache) is kept beside the cached
	// tree: its first manifest build hashes every file, and later runs
	// skip that.
	srv := runServe(h.t, "dir:"+tree, "--work-dir", filepath.Join(filepath.Dir(tree), "serve-work"))
	defer srv.stop()
	// The server builds its manifest on the first CreateSnapshot: an
	// install that asks for more headroom than any disk has makes it, and
	// is refused before the client fetches the manifest.
	warm := time.Now()
	if r := runSnapsync(context.Background(), nil, "install", "--from", srv.URL, "--dest", h.dest(),
		"--free-space-headroom", "1EiB"); r.Err == nil {
		h.t.Fatal("the warming install was not refused")
	}
	h.t.Logf("%s: the server's manifest built in %v", filesScenario(h.files), time.Since(warm))
	sc := filesScenario(h.files)
	list := []func(){
		func() {
			d := h.dest()
			h.add(sc, filesSnapsync, 0, h.snapsync(srv, d))
			h.remove(d)
		},
		func() {
			d := h.dest()
			h.add(sc, filesTar, 0, h.shell(fmt.Sprintf("mkdir -p %[2]s && tar -C %[1]s -cf - . | tar -C %[2]s -xf - && sync -f %[2]s", tree, d), d))
		},
	}
	for r := range h.filesRounds {
		for i := range list {
			list[(i+r)%len(list)]()
		}
	}
	h.t.Logf("%s: %d round(s) in %v", sc, h.filesRounds, time.Since(start))
}

// planOnly runs the client against an in-process peer that serves a valid
// manifest of verify.MaxTotalChunks distinct chunks (4 Mi, in 4,096 files)
// and refuses every chunk request: the install has no dry run, so what is
// measured is the client up to its first chunk request, which it makes once
// the plan is made. The server columns are this test process's (the peer
// and the harness).
func (h *harness) planOnly() {
	h.planRounds = envInt(h.t, planRoundsEnv, 1)
	start := time.Now()
	peer := validPeer(verify.MaxTotalChunks, 4096)(h.t)
	url := serveHostile(h.t, peer)
	h.t.Logf("%s: manifest of %d MB made in %v", planScen, len(peer.manifest)/1e6, time.Since(start))
	self := os.Getpid()
	for range h.planRounds {
		d := h.dest()
		rss := filepath.Join(h.dir(), "rusage")
		resetHWM(self)
		cpu0 := procOwnCPU(self)
		t0 := time.Now()
		cmd := exec.Command(os.Args[0], binary, "install", "--from", url, "--dest", d, "--json", "--log-format", "json",
			"--free-space-headroom", "0")
		cmd.Env = append(os.Environ(), measureEnv+"="+rss)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		err := cmd.Run()
		if err == nil || !strings.Contains(stderr.String(), "permission") {
			h.t.Fatalf("want the peer's permission error, got %v:\n%s", err, tail(stderr.String(), 2000))
		}
		s := sample{wall: time.Since(t0), srvCPU: procOwnCPU(self) - cpu0, srvRSS: procHWM(self)}
		s.rss, s.cpu = readRusage(h.t, rss)
		s.hashed, s.cached, s.localRead = planCounts(stderr.String())
		h.add(planScen, planContender, 0, s)
		h.remove(d)
	}
	h.t.Logf("%s: %d round(s) in %v", planScen, h.planRounds, time.Since(start))
}
