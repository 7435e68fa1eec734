package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
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
	rss            int64 // the client's peak RSS
	srvCPU         time.Duration
	srvRSS         int64 // the server's peak RSS during this run (snapsync only)
	hashed, cached int64
	localRead      int64 // local bytes the plan read; -1 when the install does not say
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
	for _, tool := range []string{"rsync", "zstd", "tar", "cp", "sync", "ssh", "ssh-keygen", sshdPath} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found: make bench-deps", tool)
		}
	}
	rounds := 3
	if n, err := strconv.Atoi(os.Getenv("SNAPSYNC_BENCH_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	backups := backupMode(t) // on, off, or only (the backup part alone)
	ckpt := benchCheckpoint(t)
	newer := newerCheckpoint(t, ckpt)
	h := &harness{t: t, ckpt: ckpt, newer: newer, size: treeSize(t, ckpt), work: t.TempDir(), lapStart: time.Now()}
	h.newData, h.newSize = changedBytes(t, ckpt, newer), treeSize(t, newer)
	h.fullPebble = fmt.Sprintf("full install, Pebble %.0f MB", float64(h.newSize)/1e6)
	h.floorRSS, _ = h.measure("true")
	if backups != "only" {
		if size := rocksBenchSize(t); size > 0 {
			h.rocks = rocksCheckpoint(t, size)
			h.rocksSize = treeSize(t, h.rocks)
			h.fullRocks = fmt.Sprintf("full install, RocksDB %.0f MB", float64(h.rocksSize)/1e6)
		}
		h.foreign = foreignCheckpoint(t, h.newSize)
		h.start()
		h.startTLS()
		h.lap("checkpoints and servers")
		for r := 0; r < rounds; r++ {
			h.round(r)
		}
		h.lap("the rounds")
		h.resume(rounds)
		h.lap("resume")
		h.followers(rounds)
		h.lap("followers")
		h.fanOut(rounds)
		h.lap("fan-out")
		h.manyFiles()
		h.lap("empty files")
		h.planOnly()
		h.lap("plan of 4 Mi chunks")
		h.windowed()
		h.lap("windowed plan")
	}
	if backups != "off" {
		h.backups()
	}
	if err := os.WriteFile(out, []byte(h.markdown(rounds)), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", out)
}

type harness struct {
	t                 testing.TB
	ckpt, newer, work string
	// size is the older checkpoint's, newSize the newer one's: full
	// installs copy the newer one.
	size, newSize, newData int64
	// rocks is the RocksDB checkpoint, "" when SNAPSYNC_BENCH_ROCKSDB_SIZE
	// turns that scenario off.
	rocks     string
	rocksSize int64
	// fullPebble and fullRocks name the full-install scenarios.
	fullPebble, fullRocks    string
	srvOld, srvNew, srvRocks *serveProc
	rsyncPort                int
	rsyncDaemon              *exec.Cmd
	rows                     []*benchRow
	seq                      int
	// floorRSS is what the rusage wrapper reports for `true`.
	floorRSS sample
	// foreign is a Pebble checkpoint of about newSize that shares no chunk
	// with newer (bench_scale_test.go).
	foreign string
	// srvTLS serves newer over mutual TLS, tlsArgs are the client's flags
	// for it, ssh reaches an sshd on loopback (bench_tls_test.go).
	srvTLS  *serveProc
	tlsArgs []string
	ssh     *sshServer
	// files and plan describe the scale scenarios that run after the
	// rounds (bench_scale_test.go), for the report's notes.
	files, filesRounds, planRounds int
	// windowedSize is the windowed-plan scenario's tree (0: off).
	windowedSize int64
	// bootRepo is the repository of the older checkpoint's backup, liar
	// the URL of a chunk source that lies (bench_sources_test.go), made on
	// first use.
	bootRepo, liar string
	// laps are how long each part of the run took, for the report.
	laps     []string
	lapStart time.Time
	// bk is the backup part's state (bench_backup_test.go), nil when
	// SNAPSYNC_BENCH_BACKUP=off.
	bk *backupBench
}

// lap records how long the part named took since the last lap (or the
// harness's start).
func (h *harness) lap(name string) {
	now := time.Now()
	h.laps = append(h.laps, fmt.Sprintf("%s %.0f s", name, now.Sub(h.lapStart).Seconds()))
	h.lapStart = now
}

func (h *harness) start() {
	h.srvOld = startServe(h.t, "dir:"+h.ckpt)
	h.srvNew = startServe(h.t, "dir:"+h.newer)
	servers := []*serveProc{h.srvOld, h.srvNew}
	modules := map[string]string{"old": h.ckpt, "new": h.newer}
	if h.rocks != "" {
		h.srvRocks = startServe(h.t, "dir:"+h.rocks)
		servers = append(servers, h.srvRocks)
		modules["rocksdb"] = h.rocks
	}
	for _, srv := range servers {
		d := h.dest()
		install(h.t, srv.URL, d) // each server builds its manifest once
		h.remove(d)
	}
	dir := h.dir()
	h.rsyncPort = freePort(h.t)
	conf := filepath.Join(dir, "rsyncd.conf")
	text := fmt.Sprintf("use chroot = no\nport = %d\naddress = 127.0.0.1\npid file = %s/pid\n", h.rsyncPort, dir)
	for name, path := range modules {
		text += fmt.Sprintf("[%s]\npath = %s\nread only = yes\n", name, path)
	}
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
		func() { h.add(h.fullPebble, "snapsync", h.newSize, h.snapsync(h.srvNew, h.dest())) },
		func() { h.add(h.fullPebble, "rsync --whole-file", h.newSize, h.rsync("new", h.dest(), "--whole-file")) },
		func() {
			d := h.dest()
			h.add(h.fullPebble, "tar|zstd -1 -T0", h.newSize, h.shell(fmt.Sprintf("mkdir -p %[2]s && tar -C %[1]s -cf - . | zstd -q -1 -T0 | zstd -q -d | tar -C %[2]s -xf - && sync -f %[2]s", h.newer, d), d))
		},
		func() { h.add(h.fullPebble, "floor: cp -a + sync", h.newSize, h.copyFloor(h.newer)) },
	}
	catchUp := []func(){
		func() {
			d := h.dest()
			install(h.t, h.srvOld.URL, d) // the follower's older copy, installed by snapsync
			h.add(catchUpScenario, "snapsync", h.newData, h.snapsync(h.srvNew, d))
			h.add(reinstall, "snapsync", 0, h.snapsync(h.srvNew, d))
			h.remove(d)
		},
		func() {
			d := h.dest()
			h.run(exec.Command("cp", "-a", h.ckpt, d))
			h.add(catchUpScenario, "rsync (delta)", h.newData, h.rsyncKeep("new", d))
			h.add(reinstall, "rsync (no-op)", 0, h.rsyncKeep("new", d))
			h.remove(d)
		},
	}
	lists := [][]func(){full, catchUp, h.tlsRound(), h.foreignRound(), h.bootstrapRound()}
	if h.rocks != "" {
		lists = append(lists, h.rocksRound())
	}
	for _, list := range lists {
		for i := range list {
			list[(i+r)%len(list)]()
		}
	}
}

func (h *harness) add(scenario, contender string, bytes int64, s sample) {
	r := h.row(scenario, contender, bytes)
	r.samples = append(r.samples, s)
	h.t.Logf("%s / %s: %v, wire %d, cpu %v, rss %d, server cpu %v, server rss %d", scenario, contender, s.wall, s.wire, s.cpu, s.rss, s.srvCPU, s.srvRSS)
}

// snapsync installs from srv into dest over a direct connection, then syncs
// dest; the wire bytes are what the install reports.
func (h *harness) snapsync(srv *serveProc, dest string) sample {
	return h.snapsyncURL(srv, srv.URL, dest)
}

// snapsyncURL is snapsync from url (srv's) with extra install flags.
func (h *harness) snapsyncURL(srv *serveProc, url, dest string, args ...string) sample {
	s, stdout := h.runInstall(srv, url, dest, nil, args...)
	var err error
	if s.wire, err = h.wireBytes([]byte(stdout)); err != nil {
		h.t.Fatal(err)
	}
	return s
}

// snapsyncProxied installs from srv through px, which counts the wire bytes:
// an install that kill ends prints nothing.
func (h *harness) snapsyncProxied(px *proxy, srv *serveProc, dest string, kill func(*exec.Cmd)) sample {
	wire0 := px.fromServer.Load()
	s, _ := h.runInstall(srv, px.URL(), dest, kill)
	s.wire = px.fromServer.Load() - wire0
	return s
}

// installOut is what the harness reads of `snapsync install --json`.
type installOut struct {
	BytesFetched int64 `json:"bytes_fetched"`
}

// wireBytes reads from an install's JSON output the bytes its chunks took
// on the wire (compressed where the server compressed them); the framing
// around them (the resume rows show it, counted on TCP) adds about 0.1%.
func (h *harness) wireBytes(stdout []byte) (int64, error) {
	var o installOut
	if err := json.Unmarshal(stdout, &o); err != nil {
		return 0, fmt.Errorf("install --json output %q: %w", stdout, err)
	}
	return o.BytesFetched, nil
}

// runInstall runs `snapsync install --json` from url through the rusage
// wrapper, then syncs dest; it measures srv's CPU and peak RSS meanwhile.
func (h *harness) runInstall(srv *serveProc, url, dest string, kill func(*exec.Cmd), args ...string) (sample, string) {
	pid := srv.cmd.Process.Pid
	rss := filepath.Join(h.dir(), "rusage")
	resetHWM(pid)
	cpu0 := procCPU(pid)
	start := time.Now()
	cmd := exec.Command(os.Args[0], append([]string{binary, "install", "--from", url, "--dest", dest, "--json", "--log-format", "json"}, args...)...)
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
	s := sample{wall: time.Since(start), srvCPU: procCPU(pid) - cpu0, srvRSS: procHWM(pid)}
	if kill == nil { // a killed wrapper reports nothing
		s.rss, s.cpu = readRusage(h.t, rss)
	}
	s.hashed, s.cached, s.localRead = planCounts(stderr.String())
	return s, stdout.String()
}

var (
	hashedRe = regexp.MustCompile(`"local_hashed":(\d+)`)
	cachedRe = regexp.MustCompile(`"local_cached":(\d+)`)
	// localReadRe reads the local bytes the plan read, where the plan's
	// log line carries them (the report then shows them beside the counts).
	localReadRe = regexp.MustCompile(`"local_bytes_read":(\d+)`)
)

// planCounts reads the plan's log line: local inodes hashed, inodes the
// digest cache knew, and local bytes read (-1: not reported).
func planCounts(log string) (hashed, cached, read int64) {
	if m := hashedRe.FindStringSubmatch(log); m != nil {
		hashed, _ = strconv.ParseInt(m[1], 10, 64)
	}
	if m := cachedRe.FindStringSubmatch(log); m != nil {
		cached, _ = strconv.ParseInt(m[1], 10, 64)
	}
	read = -1
	if m := localReadRe.FindStringSubmatch(log); m != nil {
		read, _ = strconv.ParseInt(m[1], 10, 64)
	}
	return hashed, cached, read
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
	reaped(h.rsyncDaemon.Process.Pid)
	s.srvCPU = procCPU(h.rsyncDaemon.Process.Pid) - cpu0
	if m := rsyncReceived.FindStringSubmatch(out); m != nil {
		s.wire, _ = strconv.ParseInt(strings.ReplaceAll(m[1], ",", ""), 10, 64)
	}
	return s
}

// copyFloor copies src with cp -a, syncs, then removes the copy.
func (h *harness) copyFloor(src string) sample {
	d := h.dest()
	return h.shell(fmt.Sprintf("cp -a %s %s && sync -f %s", src, d, d), d)
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
// again, and compares the wire bytes of both with one clean install's, all
// three through a counting proxy (a killed install reports nothing).
func (h *harness) resume(rounds int) {
	px := startProxy(h.t, h.srvNew.Addr, nil)
	for r := 0; r < rounds; r++ {
		d := h.dest()
		h.add(resumeScenario, resumeRef, h.newSize, h.snapsyncProxied(px, h.srvNew, d, nil))
		h.remove(d)
		d = h.dest()
		stage := filepath.Join(filepath.Dir(d), ".snapsync-db", "stage")
		first := h.snapsyncProxied(px, h.srvNew, d, func(cmd *exec.Cmd) {
			// Half of the checkpoint written, or a minute (a bound, should
			// the install never get there).
			for deadline := time.Now().Add(time.Minute); treeBytesNow(stage) < h.newSize/2 && time.Now().Before(deadline); {
				time.Sleep(2 * time.Millisecond)
			}
			_ = cmd.Process.Signal(syscall.SIGKILL) // the wrapper; its child dies with it (Pdeathsig)
		})
		second := h.snapsyncProxied(px, h.srvNew, d, nil)
		both := second
		both.wall += first.wall
		both.wire += first.wire
		both.srvCPU += first.srvCPU
		both.cpu += first.cpu
		both.rss = max(first.rss, second.rss)
		both.srvRSS = max(first.srvRSS, second.srvRSS)
		h.add(resumeScenario, "snapsync (killed + resumed)", h.newSize, both)
		h.remove(d)
	}
}

// followers measures the leader's CPU for one install and for three at once.
func (h *harness) followers(rounds int) {
	for r := 0; r < rounds; r++ {
		for _, n := range []int{1, 3} {
			dests := make([]string, n)
			for i := range dests {
				dests[i] = h.dest()
			}
			wires, errs := make([]int64, n), make([]error, n)
			pid := h.srvNew.cmd.Process.Pid
			resetHWM(pid)
			cpu0 := procCPU(pid)
			start := time.Now()
			var wg sync.WaitGroup
			for i, d := range dests {
				wg.Add(1)
				go func() {
					defer wg.Done()
					out, err := exec.Command(binary, "install", "--from", h.srvNew.URL, "--dest", d, "--json").Output()
					if err != nil {
						errs[i] = fmt.Errorf("install: %w", err)
						return
					}
					wires[i], errs[i] = h.wireBytes(out)
				}()
			}
			wg.Wait()
			agg := sample{wall: time.Since(start), srvCPU: procCPU(pid) - cpu0, srvRSS: procHWM(pid)}
			for i, d := range dests {
				if errs[i] != nil {
					h.t.Fatal(errs[i])
				}
				agg.wire += wires[i]
				h.remove(d)
			}
			h.add(followersScen, fmt.Sprintf("%d follower(s)", n), h.newSize*int64(n), agg)
		}
	}
}

// procCPU is the CPU time of pid and its reaped children so far: its
// threads' time on a CPU in nanoseconds (schedstat), where the kernel has
// it, else its user+system time in clock ticks; its reaped children's
// user+system time in ticks. The servers measured are Go processes, whose
// threads do not exit, so no thread's time is lost between two readings;
// a tick (10 ms) is a tenth of what a 293 MB install costs the leader.
func procCPU(pid int) time.Duration {
	children := statCPU(pid, 13, 14) // cutime cstime, fields 16-17
	if own, ok := threadsCPU(pid); ok {
		return own + children
	}
	return statCPU(pid, 11, 12) + children // utime stime, fields 14-15
}

// threadsCPU sums the time on a CPU of pid's live threads
// (/proc/pid/task/*/schedstat, nanoseconds).
func threadsCPU(pid int) (time.Duration, bool) {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		return 0, false
	}
	var sum time.Duration
	for _, t := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/schedstat", pid, t.Name()))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // the thread exited meanwhile
			}
			return 0, false
		}
		f := strings.Fields(string(b))
		if len(f) == 0 {
			return 0, false
		}
		ns, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, false
		}
		sum += time.Duration(ns)
	}
	return sum, true
}

// procOwnCPU is the user+system CPU of pid alone, without its reaped
// children: the test process's own, which reaps every command it runs.
func procOwnCPU(pid int) time.Duration {
	return statCPU(pid, 11, 12)
}

// statCPU adds the given fields (0 is the state, field 3) of
// /proc/pid/stat, in clock ticks.
func statCPU(pid int, fields ...int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	var ticks int64
	for _, i := range fields {
		n, _ := strconv.ParseInt(f[i], 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100) // USER_HZ
}

// reaped waits (up to 2 s) until pid has no child left, exited or not, so
// that its cutime and cstime count the children it forked for a client
// (rsync's daemon forks one per connection and reaps it when it can).
func reaped(pid int) {
	children := fmt.Sprintf("/proc/%d/task/%d/children", pid, pid)
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		b, err := os.ReadFile(children)
		if err != nil || len(strings.TrimSpace(string(b))) == 0 {
			return
		}
	}
}

// resetHWM resets pid's peak resident set (VmHWM) to its current one, so
// that procHWM then reports the peak of what follows.
func resetHWM(pid int) {
	// Best effort: a kernel without it leaves the peak of the whole run.
	_ = os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0o600)
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
			// Allocated, not apparent, bytes: an install sizes every
			// file before it writes the first chunk.
			if st, ok := fi.Sys().(*syscall.Stat_t); ok {
				n += min(st.Blocks*512, fi.Size())
			}
		}
		return nil
	})
	return n
}

// newerCheckpoint writes about 5% more data into the benchmark's DB and
// checkpoints it again (once per size, cached beside the first).
func newerCheckpoint(tb testing.TB, ckpt string) string {
	root := filepath.Dir(ckpt)
	newer := filepath.Join(root, "checkpoint-5pct")
	cachedBuild(tb, newer, filepath.Join(root, "ready-5pct"), func() {
		db, err := pebble.Open(filepath.Join(root, "db"), &pebble.Options{Logger: sampledb.QuietLogger{}})
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
	})
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
