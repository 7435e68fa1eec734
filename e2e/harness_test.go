package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// reportEnv, set to a file name (make bench sets bench/RESULTS.md), runs
// TestBenchReport: snapsync against rsync, tar|zstd and cp -a on one
// checkpoint of SNAPSYNC_BENCH_SIZE (default 1GiB; make bench: 256MiB),
// SNAPSYNC_BENCH_ROUNDS rounds (default 3) with the contenders alternating,
// and writes the medians as a Markdown table. Timings are reported, never
// asserted: the machine is shared.
const reportEnv = "SNAPSYNC_BENCH_REPORT"

// sample is one run of one contender.
type sample struct {
	wall           time.Duration
	wire           int64 // bytes on the wire, server to client
	cpu            time.Duration
	rss            int64
	srvCPU         time.Duration
	srvRSS         int64
	hashed, cached int64
}

type benchRow struct {
	scenario, contender string
	bytes               int64 // what the scenario moves, for MB/s
	samples             []sample
}

func TestBenchReport(t *testing.T) {
	out := os.Getenv(reportEnv)
	if out == "" {
		t.Skip(reportEnv + " not set (make bench)")
	}
	for _, tool := range []string{"rsync", "zstd", "tar", "cp", "sync"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: make bench-deps", tool)
		}
	}
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("SNAPSYNC_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	ckpt := benchCheckpoint(t)
	newer := newerCheckpoint(t, ckpt)
	h := &harness{t: t, ckpt: ckpt, newer: newer, size: treeSize(t, ckpt), work: t.TempDir()}
	h.newData = changedBytes(t, ckpt, newer)
	h.start()
	for r := 0; r < rounds; r++ {
		h.round(r)
	}
	h.resume(rounds)
	h.followers(rounds)
	if err := os.WriteFile(out, []byte(h.markdown(rounds)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", out)
}

type harness struct {
	t                 testing.TB
	ckpt, newer, work string
	size, newData     int64
	srvOld, srvNew    *serveProc
	pxOld, pxNew      *proxy
	rsyncPort         int
	rsyncDaemon       *exec.Cmd
	rows              []*benchRow
	seq               int
}

func (h *harness) start() {
	h.srvOld = startServe(h.t, "dir:"+h.ckpt)
	h.srvNew = startServe(h.t, "dir:"+h.newer)
	h.pxOld = startProxy(h.t, h.srvOld.Addr, nil)
	h.pxNew = startProxy(h.t, h.srvNew.Addr, nil)
	for _, url := range []string{"http://" + h.pxOld.Addr, "http://" + h.pxNew.Addr} {
		install(h.t, url, h.dest()) // each server builds its manifest once
	}
	dir := h.dir()
	h.rsyncPort = freePort(h.t)
	conf := filepath.Join(dir, "rsyncd.conf")
	text := fmt.Sprintf("use chroot = no\nport = %d\naddress = 127.0.0.1\npid file = %s/pid\n[old]\npath = %s\nread only = yes\n[new]\npath = %s\nread only = yes\n",
		h.rsyncPort, dir, h.ckpt, h.newer)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		h.t.Fatal(err)
	}
	h.rsyncDaemon = exec.Command("rsync", "--daemon", "--no-detach", "--config", conf)
	if err := h.rsyncDaemon.Start(); err != nil {
		h.t.Fatal(err)
	}
	h.t.Cleanup(func() { _ = h.rsyncDaemon.Process.Kill(); _ = h.rsyncDaemon.Wait() }) // its exit is not measured
	waitListening(h.t, h.rsyncPort)
}

func (h *harness) dir() string {
	h.seq++
	d := filepath.Join(h.work, strconv.Itoa(h.seq))
	if err := os.MkdirAll(d, 0o755); err != nil {
		h.t.Fatal(err)
	}
	return d
}

func (h *harness) dest() string { return filepath.Join(h.dir(), "db") }

func (h *harness) row(scenario, contender string, bytes int64) *benchRow {
	for _, r := range h.rows {
		if r.scenario == scenario && r.contender == contender {
			return r
		}
	}
	r := &benchRow{scenario: scenario, contender: contender, bytes: bytes}
	h.rows = append(h.rows, r)
	return r
}

// round runs every contender of every scenario once, starting each
// scenario's list at a different contender each round.
func (h *harness) round(r int) {
	full := []func(){
		func() { h.add("full install", "snapsync", h.size, h.snapsync(h.pxNew, h.srvNew, h.dest(), nil)) },
		func() { h.add("full install", "rsync --whole-file", h.size, h.rsync("new", h.dest(), "--whole-file")) },
		func() {
			d := h.dest()
			h.add("full install", "tar|zstd -1 -T0", h.size, h.shell(fmt.Sprintf("mkdir -p %[2]s && tar -C %[1]s -cf - . | zstd -q -1 -T0 | zstd -q -d | tar -C %[2]s -xf - && sync -f %[2]s", h.newer, d), d))
		},
		func() {
			d := h.dest()
			h.add("full install", "floor: cp -a + sync", h.size, h.shell(fmt.Sprintf("cp -a %s %s && sync -f %s", h.newer, d, d), d))
		},
	}
	catchUp := []func(){
		func() {
			d := h.dest()
			install(h.t, "http://"+h.pxOld.Addr, d) // the follower's older copy, installed by snapsync
			h.add("catch-up after 5% new data", "snapsync", h.newData, h.snapsync(h.pxNew, h.srvNew, d, nil))
			h.add("up-to-date reinstall", "snapsync", 0, h.snapsync(h.pxNew, h.srvNew, d, nil))
			h.remove(d)
		},
		func() {
			d := h.dest()
			h.run(exec.Command("cp", "-a", h.ckpt, d))
			h.add("catch-up after 5% new data", "rsync (delta)", h.newData, h.rsyncKeep("new", d))
			h.add("up-to-date reinstall", "rsync (no-op)", 0, h.rsyncKeep("new", d))
			h.remove(d)
		},
	}
	for _, list := range [][]func(){full, catchUp} {
		for i := range list {
			list[(i+r)%len(list)]()
		}
	}
}

func (h *harness) add(scenario, contender string, bytes int64, s sample) {
	r := h.row(scenario, contender, bytes)
	r.samples = append(r.samples, s)
	h.t.Logf("%s / %s: %v, wire %d, cpu %v, rss %d, server cpu %v", scenario, contender, s.wall, s.wire, s.cpu, s.rss, s.srvCPU)
}

// snapsync installs from the proxy px of srv into dest, then syncs dest.
func (h *harness) snapsync(px *proxy, srv *serveProc, dest string, kill func(*exec.Cmd)) sample {
	rss := filepath.Join(h.dir(), "rusage")
	cpu0 := procCPU(srv.cmd.Process.Pid)
	wire0 := px.fromServer.Load()
	start := time.Now()
	cmd := exec.Command(os.Args[0], binary, "install", "--from", "http://"+px.Addr, "--dest", dest, "--json", "--log-format", "json")
	cmd.Env = append(os.Environ(), measureEnv+"="+rss)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	if kill != nil {
		kill(cmd)
	}
	err := cmd.Wait()
	if kill == nil && err != nil {
		h.t.Fatalf("install: %v\n%s", err, tail(stderr.String(), 4000))
	}
	h.run(exec.Command("sync", "-f", filepath.Dir(dest)))
	s := sample{wall: time.Since(start), wire: px.fromServer.Load() - wire0, srvCPU: procCPU(srv.cmd.Process.Pid) - cpu0, srvRSS: procHWM(srv.cmd.Process.Pid)}
	if kill == nil { // a killed wrapper reports nothing
		s.rss, s.cpu = readRusage(h.t, rss)
	}
	s.hashed, s.cached = planCounts(stderr.String())
	return s
}

var (
	hashedRe = regexp.MustCompile(`"local_hashed":(\d+)`)
	cachedRe = regexp.MustCompile(`"local_cached":(\d+)`)
)

func planCounts(log string) (hashed, cached int64) {
	if m := hashedRe.FindStringSubmatch(log); m != nil {
		hashed, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := cachedRe.FindStringSubmatch(log); m != nil {
		cached, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return hashed, cached
}

// rsync copies module into a fresh dest, then removes it.
func (h *harness) rsync(module, dest string, args ...string) sample {
	s := h.rsyncKeep(module, dest, args...)
	h.remove(dest)
	return s
}

var rsyncReceived = regexp.MustCompile(`Total bytes received: ([\d,]+)`)

// rsyncKeep runs rsync from the daemon's module into dest, then syncs.
func (h *harness) rsyncKeep(module, dest string, args ...string) sample {
	script := fmt.Sprintf("rsync -a --delete --stats %s rsync://127.0.0.1:%d/%s/ %s/ && sync -f %s",
		strings.Join(args, " "), h.rsyncPort, module, dest, filepath.Dir(dest))
	cpu0 := procCPU(h.rsyncDaemon.Process.Pid)
	s, out := h.measure("sh", "-c", script)
	s.srvCPU = procCPU(h.rsyncDaemon.Process.Pid) - cpu0
	if m := rsyncReceived.FindStringSubmatch(out); m != nil {
		s.wire, _ = strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
	}
	return s
}

// shell runs script, then removes dest.
func (h *harness) shell(script, dest string) sample {
	s, _ := h.measure("sh", "-c", script)
	h.remove(dest)
	return s
}

// measure runs a command through the rusage wrapper.
func (h *harness) measure(name string, args ...string) (sample, string) {
	rss := filepath.Join(h.dir(), "rusage")
	start := time.Now()
	cmd := exec.Command(os.Args[0], append([]string{name}, args...)...)
	cmd.Env = append(os.Environ(), measureEnv+"="+rss)
	out, err := cmd.CombinedOutput()
	if err != nil {
		h.t.Fatalf("%s %v: %v\n%s", name, args, err, out)
	}
	s := sample{wall: time.Since(start)}
	s.rss, s.cpu = readRusage(h.t, rss)
	return s, string(out)
}

func (h *harness) run(cmd *exec.Cmd) {
	if out, err := cmd.CombinedOutput(); err != nil {
		h.t.Fatalf("%v: %v\n%s", cmd.Args, err, out)
	}
}

func (h *harness) remove(dest string) {
	if err := os.RemoveAll(filepath.Dir(dest)); err != nil {
		h.t.Fatal(err)
	}
}

// resume kills an install once half of the checkpoint is staged, runs it
// again, and compares the wire bytes of both with one clean install's.
func (h *harness) resume(rounds int) {
	for r := 0; r < rounds; r++ {
		d := h.dest()
		stage := filepath.Join(filepath.Dir(d), ".snapsync-db", "stage")
		first := h.snapsync(h.pxNew, h.srvNew, d, func(cmd *exec.Cmd) {
			for treeBytesNow(stage) < h.size/2 {
				time.Sleep(5 * time.Millisecond)
			}
			_ = cmd.Process.Signal(syscall.SIGKILL) // the wrapper; its child dies with it (Pdeathsig)
		})
		second := h.snapsync(h.pxNew, h.srvNew, d, nil)
		both := second
		both.wall += first.wall
		both.wire += first.wire
		both.srvCPU += first.srvCPU
		both.cpu += first.cpu
		both.rss = max(first.rss, second.rss)
		h.add("resume after a kill at 50%", "snapsync (killed + resumed)", h.size, both)
		h.remove(d)
	}
}

// followers measures the leader's CPU for one install and for three at once.
func (h *harness) followers(rounds int) {
	for r := 0; r < rounds; r++ {
		for _, n := range []int{1, 3} {
			cpu0 := procCPU(h.srvNew.cmd.Process.Pid)
			start := time.Now()
			var wg sync.WaitGroup
			var mu sync.Mutex
			var agg sample
			for i := 0; i < n; i++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d := h.dest()
					res := install(h.t, "http://"+h.pxNew.Addr, d)
					mu.Lock()
					agg.wire += res.BytesFetched
					mu.Unlock()
					h.remove(d)
				}()
			}
			wg.Wait()
			agg.wall = time.Since(start)
			agg.srvCPU = procCPU(h.srvNew.cmd.Process.Pid) - cpu0
			agg.srvRSS = procHWM(h.srvNew.cmd.Process.Pid)
			h.add("leader serving N followers at once", fmt.Sprintf("%d follower(s)", n), h.size*int64(n), agg)
		}
	}
}

// procCPU is the user+system CPU of pid and its reaped children so far.
func procCPU(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var ticks int64
	for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime, fields 14-17
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ
}

// procHWM is pid's peak resident set so far (VmHWM).
func procHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmHWM:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n << 10
		}
	}
	return 0
}

func readRusage(tb testing.TB, file string) (rss int64, cpu time.Duration) {
	b, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	var user, sys int64
	if _, err := fmt.Sscan(string(b), &rss, &user, &sys); err != nil {
		tb.Fatalf("rusage %q: %v", b, err)
	}
	return rss, time.Duration(user + sys)
}

func treeBytesNow(root string) int64 {
	var n int64
	_ = filepath.Walk(root, func(_ string, fi os.FileInfo, err error) error { // a tree being written: errors are expected
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// newerCheckpoint writes about 5% more data into the benchmark's DB and
// checkpoints it again (once per size, cached beside the first).
func newerCheckpoint(tb testing.TB, ckpt string) string {
	root := filepath.Dir(ckpt)
	newer, ready := filepath.Join(root, "checkpoint-5pct"), filepath.Join(root, "ready-5pct")
	if _, err := os.Stat(ready); err == nil {
		return newer
	}
	if err := os.RemoveAll(newer); err != nil {
		tb.Fatal(err)
	}
	db, err := pebble.Open(filepath.Join(root, "db"), &pebble.Options{Logger: quietPebble()})
	if err != nil {
		tb.Fatal(err)
	}
	defer db.Close()
	size := treeSize(tb, ckpt)
	if _, err := sampledb.Write(context.Background(), db, sampledb.Fill{Seed: 1000, Bytes: size / 10}); err != nil { // compresses ~2:1
		tb.Fatal(err)
	}
	if err := db.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := db.Checkpoint(newer, pebble.WithFlushedWAL()); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		tb.Fatal(err)
	}
	return newer
}

// changedBytes is the size of newer's files that old lacks or holds with
// other content.
func changedBytes(tb testing.TB, old, newer string) int64 {
	var n int64
	for p, f := range treeFiles(tb, newer) {
		a, errA := os.ReadFile(filepath.Join(old, p))
		b, errB := os.ReadFile(filepath.Join(newer, p))
		if errB != nil {
			tb.Fatal(errB)
		}
		if errA != nil || string(a) != string(b) {
			n += f.Size
		}
	}
	return n
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[len(s)/2]
}

func (r *benchRow) med(f func(sample) float64) float64 {
	var xs []float64
	for _, s := range r.samples {
		xs = append(xs, f(s))
	}
	return median(xs)
}

func (h *harness) markdown(rounds int) string {
	var b strings.Builder
	host, _ := os.Hostname()
	kernel, _ := exec.Command("uname", "-r").Output()
	mem, _ := exec.Command("sh", "-c", "free -m | awk '/Mem:/ {print $2}'").Output()
	fmt.Fprintf(&b, "# make bench results\n\n")
	fmt.Fprintf(&b, "Machine: `%s`, nproc %d, %s MiB memory, kernel %s; %s.\n\n", host, runtime.NumCPU(), strings.TrimSpace(string(mem)), strings.TrimSpace(string(kernel)), time.Now().UTC().Format("2006-01-02"))
	fmt.Fprintf(&b, "Command: `make bench BENCH_SIZE=%s` (`%s=bench/RESULTS.md go test -run TestBenchReport ./e2e`).\n", os.Getenv("SNAPSYNC_BENCH_SIZE"), reportEnv)
	fmt.Fprintf(&b, "Checkpoint: %.1f MB; the newer one adds %.1f MB of new or changed files. Medians of %d rounds, contenders alternating; every contender ends with a `sync`.\n\n", float64(h.size)/1e6, float64(h.newData)/1e6, rounds)
	b.WriteString("**Noisy:** the 2 cores were shared with other work while this ran; read ratios, not absolute times, and rerun before quoting.\n\n")
	b.WriteString("Notes: \"5% new data\" is 5% of the DB written again, which Pebble's flush and compactions turn into the new or changed files counted above. " +
		"Client peak RSS is measured through a small wrapper process (wait4 rusage), so ~23 MB is its floor. Server CPU comes from /proc (10 ms ticks), " +
		"server peak RSS is the serving process's VmHWM so far (it only grows over the run); rsync's daemon forks per client, its RSS is not shown. " +
		"Wire bytes: snapsync's through a counting TCP proxy, rsync's from --stats.\n\n")
	b.WriteString("| scenario | contender | wall s | MB/s | wire MB | client CPU s | client peak RSS MB | server CPU s | server peak RSS MB | local files hashed / cached |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range h.rows {
		wall := r.med(func(s sample) float64 { return s.wall.Seconds() })
		rate := "—"
		if r.bytes > 0 && wall > 0 {
			rate = fmt.Sprintf("%.0f", float64(r.bytes)/1e6/wall)
		}
		opt := func(v float64, f string) string {
			if v == 0 {
				return "—"
			}
			return fmt.Sprintf(f, v)
		}
		hc := "—"
		if strings.HasPrefix(r.contender, "snapsync") {
			hc = fmt.Sprintf("%.0f / %.0f", r.med(func(s sample) float64 { return float64(s.hashed) }), r.med(func(s sample) float64 { return float64(s.cached) }))
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f | %s | %s | %s | %s | %s | %s | %s |\n", r.scenario, r.contender, wall, rate,
			opt(r.med(func(s sample) float64 { return float64(s.wire) / 1e6 }), "%.1f"),
			opt(r.med(func(s sample) float64 { return s.cpu.Seconds() }), "%.2f"),
			opt(r.med(func(s sample) float64 { return float64(s.rss) / 1e6 }), "%.0f"),
			opt(r.med(func(s sample) float64 { return s.srvCPU.Seconds() }), "%.2f"),
			opt(r.med(func(s sample) float64 { return float64(s.srvRSS) / 1e6 }), "%.0f"), hc)
	}
	b.WriteString("\n" + h.targets())
	return b.String()
}

// targets compares the medians with issue 11's targets.
func (h *harness) targets() string {
	get := func(sc, c string, f func(sample) float64) float64 {
		for _, r := range h.rows {
			if r.scenario == sc && r.contender == c {
				return r.med(f)
			}
		}
		return 0
	}
	wall := func(s sample) float64 { return s.wall.Seconds() }
	wire := func(s sample) float64 { return float64(s.wire) }
	srv := func(s sample) float64 { return s.srvCPU.Seconds() }
	var b strings.Builder
	b.WriteString("| target | measured |\n| --- | --- |\n")
	fmt.Fprintf(&b, "| full install ≤ 0.8× rsync's time | %.2f× |\n", get("full install", "snapsync", wall)/get("full install", "rsync --whole-file", wall))
	fmt.Fprintf(&b, "| catch-up ≤ 0.7× rsync's time | %.2f× |\n", get("catch-up after 5% new data", "snapsync", wall)/get("catch-up after 5% new data", "rsync (delta)", wall))
	fmt.Fprintf(&b, "| catch-up wire ≤ 1.2× the new data | %.2f× (rsync: %.2f×) |\n", get("catch-up after 5% new data", "snapsync", wire)/float64(h.newData), get("catch-up after 5% new data", "rsync (delta)", wire)/float64(h.newData))
	fmt.Fprintf(&b, "| up-to-date reinstall ≤ 1× rsync's no-op | %.2f× |\n", get("up-to-date reinstall", "snapsync", wall)/get("up-to-date reinstall", "rsync (no-op)", wall))
	fmt.Fprintf(&b, "| resume: wire ≤ 1.15× one install | %.2f× |\n", get("resume after a kill at 50%", "snapsync (killed + resumed)", wire)/get("full install", "snapsync", wire))
	fmt.Fprintf(&b, "| three followers: leader CPU ≤ 1.3× one | %.2f× |\n", get("leader serving N followers at once", "3 follower(s)", srv)/get("leader serving N followers at once", "1 follower(s)", srv))
	return b.String()
}
