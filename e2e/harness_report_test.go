package e2e

// The report of TestBenchReport: medians, the table and the targets.

import (
	"cmp"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/snapsync/snapsync/verify"
)

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
	size := cmp.Or(os.Getenv("SNAPSYNC_BENCH_SIZE"), "1GiB")
	report := filepath.Join("bench", filepath.Base(os.Getenv(reportEnv)))
	backup := "BENCH_BACKUP=off"
	if h.bk != nil {
		backup = fmt.Sprintf("BENCH_BACKUP=%s BENCH_BACKUP_ROUNDS=%d", backupMode(h.t), h.bk.rounds)
	}
	fmt.Fprintf(&b, "Command: `make bench BENCH_SIZE=%s BENCH_ROUNDS=%d BENCH_FILES=%d BENCH_FILES_ROUNDS=%d %s BENCH_REPORT=%s` (`%s=%s go test -run TestBenchReport ./e2e`).\n",
		size, rounds, h.files, h.filesRounds, backup, report, reportEnv, report)
	fmt.Fprintf(&b, "Checkpoints: Pebble %.1f MB, whose newer checkpoint (%.1f MB, the one full installs copy) adds %.1f MB of new or changed files", float64(h.size)/1e6, float64(h.newSize)/1e6, float64(h.newData)/1e6)
	if h.rocks != "" {
		fmt.Fprintf(&b, "; RocksDB %.1f MB (db_bench fillrandom, snappy, then `ldb checkpoint`)", float64(h.rocksSize)/1e6)
	}
	fmt.Fprintf(&b, ". Medians of %d rounds, contenders alternating; every contender ends with a `sync`.\n\n", rounds)
	b.WriteString("**Noisy:** this is a 2-core VM on a shared host (it hands freed memory back to the host, so a write after a large delete costs more, for every contender); read ratios of one run, not absolute times, and rerun before quoting.\n\n")
	b.WriteString(h.notes())
	b.WriteString(h.backupNotes())
	fmt.Fprintf(&b, "Time taken: %s (building a data set the first time included; later runs reuse it).\n\n", strings.Join(h.laps, ", "))
	b.WriteString("| scenario | contender | wall s | MB/s | wire MB | client CPU s | client peak RSS MB | server CPU s | server peak RSS MB | total CPU s | local files hashed / cached |\n")
	b.WriteString("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	for _, r := range h.rows {
		b.WriteString(r.markdown())
	}
	b.WriteString("\n" + h.targets())
	return b.String()
}

func (h *harness) notes() string {
	wire := "snapsync's are the `bytes_fetched` its install reports (chunk bytes as sent, compressed where the server compressed them; the framing around them adds about 0.1%, as the resume rows, counted on TCP by the proxy, show)"
	return "Notes: \"5% new data\" is 5% of the DB written again, which Pebble's flush and compactions turn into the new or changed files counted above. " +
		"Timed snapsync installs connect straight to the server; only the resume scenario goes through a counting TCP proxy (splicing, kernel to kernel), " +
		"since a killed install reports nothing, and its reference clean install goes through the same proxy. " +
		fmt.Sprintf("Client CPU and peak RSS come from a wrapper process (wait4 rusage); the child inherits the wrapper's peak at exec, so %.0f MB (what it reports for `true`) is the floor. ", float64(h.floorRSS.rss)/1e6) +
		"Server CPU comes from /proc: a process's threads' time on a CPU in nanoseconds (schedstat), and its reaped children's in 10 ms ticks (rsync's daemon's, waited for; sshd's). " +
		"Server peak RSS is snapsync's serving process's VmHWM, reset before each run (clear_refs); rsync's daemon forks per client, its RSS is not shown. " +
		"Total CPU is client + server. Wire bytes: " + wire + "; rsync's from --stats.\n\n" + h.scaleNotes() + sourcesNotes
}

// scaleNotes describes issue 20's scenarios.
func (h *harness) scaleNotes() string {
	return "Issue 20's scenarios. *Over mTLS / ssh*: snapsync serves the newer checkpoint with certificates the harness makes " +
		"(mutual TLS and a peer allow-list on both sides, as in production), against `rsync -a --whole-file` over ssh " +
		"(`-c " + sshCipher + "`) from an sshd on 127.0.0.1 the harness starts (Debian's openssh-server, key login), and plaintext snapsync; " +
		"the ssh row's server CPU is sshd's with its reaped children (the session and the remote rsync), and its wire bytes rsync's, not ssh's. " +
		"*Foreign DB*: the follower holds a Pebble DB of about the same size written from other seeds (no chunk in common), copied in with `cp -a` " +
		"and synced before the clock starts, so that no digest cache knows it, and installed onto once deleting the old DB inside the clock (the default) and once with `--keep-old`, " +
		"as the OM's Commit (keep_old) does, whose Finalize deletes the old DB after the OM reopened the new one (here `snapsync finalize`, untimed); the last column shows what the plan hashed " +
		"(and the local bytes it read, when the plan's log line reports `local_bytes_read`). " +
		fmt.Sprintf("*Empty files*: a plain tree of %s empty files in %s directories served as `dir:`, against `tar -cf - | tar -xf -` and `sync -f`; "+
			"%d round(s) (SNAPSYNC_BENCH_FILES, SNAPSYNC_BENCH_FILES_ROUNDS); the server hashes the tree once before the clock starts "+
			"(its digest cache is kept beside the cached tree), and a timed install's checkpoint, older than `--reuse-within`, walks it again with that cache. ",
			humanize.Comma(int64(h.files)), humanize.Comma(int64(filesDirs(h.files))), h.filesRounds) +
		fmt.Sprintf("*Plan of 4 Mi chunks*: `snapsync install` has no dry run, so the harness serves, in-process, a valid manifest of "+
			"%s distinct 4 KiB chunks in 4,096 files and refuses every chunk request: the client's figures are up to its first chunk request, "+
			"made once the plan's first window is (a manifest past the plan window is planned file by file, then staged a window of "+
			"262,144 chunks at a time); the server columns of that row are the test process's (the in-process peer); %d round(s) (SNAPSYNC_BENCH_PLAN_ROUNDS). ",
			humanize.Comma(int64(verify.MaxTotalChunks)), h.planRounds) +
		fmt.Sprintf("*Windowed plan*: a full install of %s of random bytes in 64 MiB files, served as `dir:` in 4 KiB chunks (the most chunks for the bytes), "+
			"one round each with the plan made whole (`--plan-window 4194304`), in the default window and in a quarter of it "+
			"(SNAPSYNC_BENCH_WINDOWED sets the size, 0 skips it): the client's peak RSS follows the window, not the install.\n\n",
			humanize.IBytes(uint64(h.windowedSize)))
}

func (r *benchRow) markdown() string {
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
	total := "—"
	if cpu := r.med(func(s sample) float64 { return s.cpu.Seconds() }); cpu > 0 { // else the client was not measured
		total = opt(r.med(func(s sample) float64 { return (s.cpu + s.srvCPU).Seconds() }), "%.2f")
	}
	hc := "—"
	if strings.HasPrefix(r.contender, "snapsync") && !strings.HasPrefix(r.scenario, "backup:") { // a backup logs no plan line
		hc = fmt.Sprintf("%.0f / %.0f", r.med(func(s sample) float64 { return float64(s.hashed) }), r.med(func(s sample) float64 { return float64(s.cached) }))
		if read := r.med(func(s sample) float64 { return float64(s.localRead) }); read >= 0 {
			hc += fmt.Sprintf(" (%.1f MB read)", read/1e6)
		}
	}
	return fmt.Sprintf("| %s | %s | %.2f | %s | %s | %s | %s | %s | %s | %s | %s |\n", cell(r.scenario), cell(r.contender), wall, rate,
		opt(r.med(func(s sample) float64 { return float64(s.wire) / 1e6 }), "%.1f"),
		opt(r.med(func(s sample) float64 { return s.cpu.Seconds() }), "%.2f"),
		opt(r.med(func(s sample) float64 { return float64(s.rss) / 1e6 }), "%.0f"),
		opt(r.med(func(s sample) float64 { return s.srvCPU.Seconds() }), "%.2f"),
		opt(r.med(func(s sample) float64 { return float64(s.srvRSS) / 1e6 }), "%.0f"), total, hc)
}

const (
	catchUpScenario = "catch-up after 5% new data"
	reinstall       = "up-to-date reinstall"
	resumeScenario  = "resume after a kill at 50%"
	resumeRef       = "snapsync, one clean install (reference)"
	followersScen   = "leader serving N followers at once"
)

// target is one line of the targets table: measured against want, met when
// measured ≤ want.
type target struct {
	name     string
	measured float64 // NaN when a scenario did not run
	want     float64
	unit     string // "×" or " MiB"
	note     string
	// missing, when set, is shown instead of a figure: what is not built yet.
	missing string
}

func (t target) markdown() string {
	if t.missing != "" {
		return fmt.Sprintf("| %s | %s | — |\n", cell(t.name), cell(t.missing))
	}
	if math.IsNaN(t.measured) || math.IsInf(t.measured, 0) {
		return fmt.Sprintf("| %s | not measured | — |\n", cell(t.name))
	}
	verdict := "met"
	if t.measured > t.want {
		verdict = "missed"
	}
	v := fmt.Sprintf("%.2f", t.measured)
	if v == fmt.Sprintf("%.2f", t.want) { // show on which side of the target it fell
		v = fmt.Sprintf("%.3f", t.measured)
	}
	return fmt.Sprintf("| %s | %s%s%s | %s |\n", cell(t.name), v, t.unit, t.note, verdict)
}

// cell escapes the pipes of a table cell's text (`tar | tar`).
func cell(s string) string { return strings.ReplaceAll(s, "|", `\|`) }

// targets compares the medians with issue 11's, issue 20's and issue 22's targets.
func (h *harness) targets() string {
	wall := func(s sample) float64 { return s.wall.Seconds() }
	wire := func(s sample) float64 { return float64(s.wire) }
	srv := func(s sample) float64 { return s.srvCPU.Seconds() }
	ratio := func(sc, a, b string, f func(sample) float64) float64 { return h.med(sc, a, f) / h.med(sc, b, f) }
	newData := float64(h.newData)
	var b strings.Builder
	b.WriteString("| target | measured | verdict |\n| --- | --- | --- |\n")
	for _, t := range []target{
		{name: "full install ≤ 0.8× rsync's time (" + strings.TrimPrefix(h.fullPebble, "full install, ") + ")", measured: ratio(h.fullPebble, "snapsync", "rsync --whole-file", wall), want: 0.8, unit: "×"},
		{name: "full install ≤ 0.8× rsync's time (" + cmp.Or(strings.TrimPrefix(h.fullRocks, "full install, "), "RocksDB") + ")", measured: ratio(h.fullRocks, "snapsync", "rsync --whole-file", wall), want: 0.8, unit: "×"},
		{name: "catch-up ≤ 0.7× rsync's time", measured: ratio(catchUpScenario, "snapsync", "rsync (delta)", wall), want: 0.7, unit: "×"},
		{name: "catch-up wire ≤ 1.2× the new data", measured: h.med(catchUpScenario, "snapsync", wire) / newData, want: 1.2, unit: "×",
			note: fmt.Sprintf(" (rsync: %.2f×)", h.med(catchUpScenario, "rsync (delta)", wire)/newData)},
		{name: "up-to-date reinstall ≤ 1× rsync's no-op", measured: h.med(reinstall, "snapsync", wall) / h.med(reinstall, "rsync (no-op)", wall), want: 1, unit: "×"},
		{name: "resume: wire ≤ 1.15× one install (both through the proxy)", measured: ratio(resumeScenario, "snapsync (killed + resumed)", resumeRef, wire), want: 1.15, unit: "×"},
		{name: "three followers, each from the leader alone: leader CPU ≤ 1.3× one (every follower costs the leader a read and a send of every byte; the fan-out rows below, with chunk sources, are how it is met)", measured: ratio(followersScen, "3 follower(s)", "1 follower(s)", srv), want: 1.3, unit: "×"},
		h.peak("client", func(s sample) int64 { return s.rss }),
		h.peak("server", func(s sample) int64 { return s.srvRSS }),
		{name: "install onto a foreign follower DB ≤ 1.15× onto an empty one (the command's default: the old DB is deleted inside the clock)", measured: ratio(foreignScen, ontoForeign, ontoEmpty, wall), want: 1.15, unit: "×"},
		{name: "install onto a foreign follower DB ≤ 1.15× onto an empty one, as the OM commits it (keep_old: Finalize deletes the old DB after the OM reopened)", measured: ratio(foreignScen, ontoForeignKept, ontoEmpty, wall), want: 1.15, unit: "×"},
		{name: filesScenario(h.files) + " ≤ 2× `tar | tar` + sync", measured: ratio(filesScenario(h.files), filesSnapsync, filesTar, wall), want: filesTargetWall, unit: "×"},
		h.maxRSS(filesScenario(h.files)+": client peak RSS ≤ 256 MiB", filesScenario(h.files), filesSnapsync),
		h.maxRSS("valid manifest of 4 Mi chunks (plan only): client peak RSS ≤ 256 MiB", planScen, planContender),
		h.maxRSS(windowedScenario(h.windowedSize)+", default plan window: client peak RSS ≤ 256 MiB",
			windowedScenario(h.windowedSize), windowedContender(h.windowedSize, defaultWindow)),
		{name: "full install over mTLS ≤ 0.6× rsync over ssh (" + sshCipher + ")", measured: ratio(h.tlsScenario(), tlsContender, sshContender, wall), want: 0.6, unit: "×"},
		{name: "mTLS ≤ 1.2× plaintext snapsync", measured: ratio(h.tlsScenario(), tlsContender, plainContender, wall), want: 1.2, unit: "×"},
	} {
		b.WriteString(t.markdown())
	}
	for _, t := range []target{
		{name: "new follower with a backup from before the new data as `--chunks-from`: bytes from the leader ≤ 1.3× the new data",
			measured: h.med(bootstrapScen, bootstrapRepo, wire) / newData, want: 1.3, unit: "×",
			note: fmt.Sprintf(" (leader only: %.2f×)", h.med(bootstrapScen, bootstrapNone, wire)/newData)},
		{name: "a chunk source that lies (says it has every chunk, sends zeros): bytes from the leader ≤ what it sends without that source",
			measured: ratio(bootstrapScen, bootstrapLies, bootstrapNone, wire), want: 1, unit: "×"},
		{name: "three followers at once, each with the other two as chunk sources: leader CPU ≤ 1.3× one follower's",
			measured: ratio(fanOutScen, fanOutContender(3), fanOutContender(1), srv), want: 1.3, unit: "×"},
		{name: "three followers at once, each with the other two as chunk sources: wall time ≤ 1.2× one install",
			measured: ratio(fanOutScen, fanOutContender(3), fanOutContender(1), wall), want: 1.2, unit: "×",
			note: h.fanOutFloor()},
	} {
		b.WriteString(t.markdown())
	}
	for _, t := range h.backupTargets() {
		b.WriteString(t.markdown())
	}
	return b.String()
}

// med is the median of f over the samples of one row; NaN when it did not run.
func (h *harness) med(scenario, contender string, f func(sample) float64) float64 {
	for _, r := range h.rows {
		if r.scenario == scenario && r.contender == contender {
			return r.med(f)
		}
	}
	return math.NaN()
}

// maxRSS is the largest client peak RSS of one row, against the bound at
// scale (scaleRSSTarget); NaN when it did not run.
func (h *harness) maxRSS(name, scenario, contender string) target {
	t := target{name: name, measured: math.NaN(), want: scaleRSSTarget, unit: " MiB"}
	for _, r := range h.rows {
		if r.scenario == scenario && r.contender == contender {
			var most int64
			for _, s := range r.samples {
				most = max(most, s.rss)
			}
			t.measured = float64(most) / (1 << 20)
		}
	}
	return t
}

// peak is the largest peak RSS of any snapsync install, on one side, but
// those of the scale scenarios, which have bounds of their own (maxRSS),
// of the backup scenarios (issue 22's, with no such target), and of the
// new follower from a backup, whose install serves the repository inside
// its own process.
func (h *harness) peak(side string, f func(sample) int64) target {
	var most int64
	for _, r := range h.rows {
		if strings.HasPrefix(r.contender, "snapsync") && r.scenario != planScen && r.scenario != filesScenario(h.files) && r.scenario != windowedScenario(h.windowedSize) &&
			r.scenario != bootstrapScen && !strings.HasPrefix(r.scenario, "backup:") {
			for _, s := range r.samples {
				most = max(most, f(s))
			}
		}
	}
	return target{
		name:     fmt.Sprintf("peak RSS ≤ 100 MiB, %s (at a %.0f MB DB; the target is for 4 GiB: `make bench BENCH_SIZE=4GiB BENCH_ROUNDS=1`)", side, float64(h.newSize)/1e6),
		measured: float64(most) / (1 << 20), want: 100, unit: " MiB",
	}
}

// fanOutFloor is the shortest wall time the three followers' run could take
// on this machine's cores, the CPU time of every process in it (leader and
// follower sidecars) spread over all of them, against one install's time.
func (h *harness) fanOutFloor() string {
	all := h.med(fanOutScen, fanOutContender(3), func(s sample) float64 { return (s.cpu + s.srvCPU).Seconds() })
	one := h.med(fanOutScen, fanOutContender(1), func(s sample) float64 { return s.wall.Seconds() })
	if math.IsNaN(all) || math.IsNaN(one) || one == 0 {
		return ""
	}
	return fmt.Sprintf(" (the run used %.2f s of CPU: on %d cores it cannot take less than %.2f×)", all, runtime.NumCPU(), all/float64(runtime.NumCPU())/one)
}

// sourcesNotes describes issue 21's scenario.
const sourcesNotes = "Issue 21's scenario. *New follower from a backup*: the older checkpoint is backed up once (untimed) into a directory " +
	"repository; each round installs the newer checkpoint into an empty directory from the leader with `--chunks-from REPO` " +
	"(the repository served inside the installing process), and from the leader alone; the wire column is what the leader sent " +
	"(`bytes_fetched` less the repository's `bytes_by_source`; every contender asks for `--compression none`, so that it counts chunks, not the compression choices of the leader's streams); a third contender names instead a chunk source in the test process that says it has " +
	"every chunk and sends zeros (the install is exact in every round: it fails otherwise). *Fan-out*: three follower sidecars (local API on loopback with a token, " +
	"peer listener on 127.0.0.1) prepare the newer checkpoint from the leader, one alone, then three at once, each naming the other two " +
	"in `PrepareRequest.chunk_sources`; the row's time runs until every Prepare has ended (staged), its server CPU is the leader's, its client CPU the three follower sidecars' together; " +
	"each staging is aborted before the next run.\n\n"
