package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/dustin/go-humanize"
)

// rocksSizeEnv sets the size of TestBenchReport's RocksDB checkpoint
// (default 150MB; "0" or "off" leaves that scenario out).
const rocksSizeEnv = "SNAPSYNC_BENCH_ROCKSDB_SIZE"

// rocksBenchSize reads rocksSizeEnv; 0 means no RocksDB scenario.
func rocksBenchSize(tb testing.TB) uint64 {
	tb.Helper()
	s := strings.TrimSpace(os.Getenv(rocksSizeEnv))
	switch s {
	case "":
		return 150e6
	case "off":
		return 0
	}
	n, err := humanize.ParseBytes(s)
	if err != nil {
		tb.Fatalf("%s: %v", rocksSizeEnv, err)
	}
	return n
}

// rocksCheckpoint makes (once per size, cached under the temp dir) a RocksDB
// filled by db_bench and an `ldb checkpoint` of it of about size bytes.
func rocksCheckpoint(tb testing.TB, size uint64) string {
	tb.Helper()
	needRocksDB(tb)
	root := filepath.Join(os.TempDir(), "snapsync-bench-rocksdb-"+strconv.FormatUint(size, 10))
	db, ckpt := filepath.Join(root, "db"), filepath.Join(root, "checkpoint")
	cachedBuild(tb, root, filepath.Join(root, "ready"), func() {
		if err := os.MkdirAll(root, 0o755); err != nil {
			tb.Fatal(err)
		}
		// Values of 400 bytes that snappy halves: an entry takes about 175
		// bytes of SST (some keys repeat: fillrandom draws them).
		runTool(tb, "db_bench", "--benchmarks=fillrandom", "--db="+db, fmt.Sprintf("--num=%d", max(size/175, 1000)),
			"--value_size=400", "--compression_type=snappy", "--seed=7", "--threads=1", "--statistics=false")
		checkpoint(tb, db, ckpt)
	})
	return ckpt
}

// rocksRound is one round of the RocksDB full install: snapsync, rsync and
// the cp -a floor.
func (h *harness) rocksRound() []func() {
	return []func(){
		func() { h.add(h.fullRocks, "snapsync", h.rocksSize, h.snapsync(h.srvRocks, h.dest())) },
		func() {
			h.add(h.fullRocks, "rsync --whole-file", h.rocksSize, h.rsync("rocksdb", h.dest(), "--whole-file"))
		},
		func() { h.add(h.fullRocks, "floor: cp -a + sync", h.rocksSize, h.copyFloor(h.rocks)) },
	}
}
