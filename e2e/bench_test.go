package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"

	"github.com/cockroachdb/pebble/v2"
	"github.com/dustin/go-humanize"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// BenchmarkInstall measures, side by side in one run on the same checkpoint
// of a Pebble DB (SNAPSYNC_BENCH_SIZE, default 1GiB), a full snapsync
// install over loopback against two baselines: an rsync daemon on loopback
// (whole files, then sync) and tar | zstd -1 -T0 | zstd -d | tar (then sync).
// It reports MB/s, wire bytes and the peak RSS (ru_maxrss, what
// /usr/bin/time -v prints) of client and server processes.
func BenchmarkInstall(b *testing.B) {
	ckpt := benchCheckpoint(b)
	size := treeSize(b, ckpt)
	b.Run("snapsync", func(b *testing.B) { benchSnapsync(b, ckpt, size, "auto") })
	b.Run("snapsync-zstd", func(b *testing.B) { benchSnapsync(b, ckpt, size, "zstd") })
	b.Run("rsync-daemon", func(b *testing.B) { benchRsync(b, ckpt, size) })
	b.Run("tar-zstd", func(b *testing.B) { benchTarZstd(b, ckpt, size) })
}

// benchCheckpoint makes (once per size, cached under the temp dir) a settled
// Pebble DB of at least SNAPSYNC_BENCH_SIZE on disk (default 1GiB) and a
// checkpoint of it that every contender copies.
func benchCheckpoint(b testing.TB) string {
	b.Helper()
	size := uint64(1 << 30)
	if s := os.Getenv("SNAPSYNC_BENCH_SIZE"); s != "" {
		n, err := humanize.ParseBytes(s)
		if err != nil {
			b.Fatalf("SNAPSYNC_BENCH_SIZE: %v", err)
		}
		size = n
	}
	root := filepath.Join(os.TempDir(), "snapsync-bench-"+strconv.FormatUint(size, 10))
	ckpt := filepath.Join(root, "checkpoint")
	cachedBuild(b, root, filepath.Join(root, "ready"), func() {
		db, err := pebble.Open(filepath.Join(root, "db"), &pebble.Options{Logger: sampledb.QuietLogger{}})
		if err != nil {
			b.Fatal(err)
		}
		defer db.Close()
		// Values compress about 2:1 inside the SSTs: write until the DB
		// holds size bytes on disk.
		for seed := uint64(1); db.Metrics().DiskSpaceUsage() < size; seed++ {
			if _, err := sampledb.Write(context.Background(), db, sampledb.Fill{Seed: seed, Bytes: int64(size / 4)}); err != nil {
				b.Fatal(err)
			}
			if err := db.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		if err := db.Checkpoint(ckpt, pebble.WithFlushedWAL()); err != nil {
			b.Fatal(err)
		}
	})
	return ckpt
}

// cachedBuild runs build once per marker: a data set the benchmarks make
// slowly is kept under os.TempDir() for later runs. Without the marker
// (none yet, or an interrupted build) it removes dir first; the marker is
// written once build returns.
func cachedBuild(tb testing.TB, dir, marker string, build func()) {
	tb.Helper()
	if _, err := os.Stat(marker); err == nil {
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		tb.Fatal(err)
	}
	build()
	if err := os.WriteFile(marker, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
}

func treeSize(b testing.TB, dir string) int64 {
	b.Helper()
	var n int64
	for _, f := range treeFiles(b, dir) {
		n += f.Size
	}
	return n
}

func benchSnapsync(b *testing.B, ckpt string, size int64, compression string) {
	srv := startServe(b, "dir:"+ckpt, "--compression", compression)
	install(b, srv.URL, filepath.Join(b.TempDir(), "warm")) // builds the manifest once
	var wire int64
	var clientRSS int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dest := filepath.Join(b.TempDir(), "db")
		cmd := exec.Command(binary, "install", "--from", srv.URL, "--dest", dest, "--json")
		out, err := cmd.Output()
		if err != nil {
			b.Fatalf("install: %v", err)
		}
		var res installResult
		if err := json.Unmarshal(out, &res); err != nil {
			b.Fatal(err)
		}
		wire += res.BytesFetched
		clientRSS = max(clientRSS, maxRSS(cmd.ProcessState))
	}
	b.StopTimer()
	srv.stop()
	report(b, size, wire, clientRSS, maxRSS(srv.cmd.ProcessState))
}

func benchRsync(b *testing.B, ckpt string, size int64) {
	need(b, "rsync")
	dir := b.TempDir()
	conf := filepath.Join(dir, "rsyncd.conf")
	port := freePort(b)
	text := fmt.Sprintf("use chroot = no\nport = %d\naddress = 127.0.0.1\npid file = %s/pid\n[ckpt]\npath = %s\nread only = yes\n", port, dir, ckpt)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	daemon := exec.Command("rsync", "--daemon", "--no-detach", "--config", conf)
	if err := daemon.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = daemon.Process.Kill(); _ = daemon.Wait() }() // the daemon's exit status is not measured
	waitListening(b, port)
	var clientRSS int64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dest := filepath.Join(b.TempDir(), "db")
		cmd := exec.Command("sh", "-c", fmt.Sprintf("rsync -a --whole-file rsync://127.0.0.1:%d/ckpt/ %s/ && sync -f %s", port, dest, dest))
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("rsync: %v\n%s", err, out)
		}
		clientRSS = max(clientRSS, maxRSS(cmd.ProcessState))
	}
	b.StopTimer()
	report(b, size, size*int64(b.N), clientRSS, 0)
}

func benchTarZstd(b *testing.B, ckpt string, size int64) {
	need(b, "zstd")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		dest := filepath.Join(b.TempDir(), "db")
		if err := os.MkdirAll(dest, 0o755); err != nil {
			b.Fatal(err)
		}
		script := fmt.Sprintf("tar -C %s -cf - . | zstd -q -1 -T0 | zstd -q -d | tar -C %s -xf - && sync -f %s", ckpt, dest, dest)
		if out, err := exec.Command("sh", "-c", script).CombinedOutput(); err != nil {
			b.Fatalf("tar|zstd: %v\n%s", err, out)
		}
	}
	b.StopTimer()
	report(b, size, 0, 0, 0)
}

func report(b *testing.B, size, wire, clientRSS, serverRSS int64) {
	b.SetBytes(size)
	b.ReportMetric(float64(wire)/float64(b.N)/1e6, "wire-MB/op")
	if clientRSS > 0 {
		b.ReportMetric(float64(clientRSS)/1e6, "client-peak-RSS-MB")
	}
	if serverRSS > 0 {
		b.ReportMetric(float64(serverRSS)/1e6, "server-peak-RSS-MB")
	}
}

// maxRSS returns a finished process's peak resident set in bytes.
func maxRSS(ps *os.ProcessState) int64 {
	if ps == nil {
		return 0
	}
	if ru, ok := ps.SysUsage().(*syscall.Rusage); ok {
		return ru.Maxrss * 1024
	}
	return 0
}

func need(b *testing.B, tool string) {
	b.Helper()
	if _, err := exec.LookPath(tool); err != nil {
		b.Fatalf("%s not found: `make bench` installs it (make bench-deps)", tool)
	}
}
