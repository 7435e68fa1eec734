package e2e

// TestBenchReport's backup scenarios (issue 22): snapsync backup, restore
// and verify against restic, kopia and tar | zstd, on a directory
// repository on the same disk and, for the first backup, on S3 (versitygw
// behind a counting reverse proxy on loopback).
//
// Every contender backs up the same source path: a directory the harness
// sets to the older checkpoint's content (rsync -a --delete --checksum, not
// timed), then to the newer one's, so that the files both share keep their
// inode, size, mtime and ctime, as in a live DB directory. restic, kopia and
// GNU tar's --listed-incremental then skip them by metadata, snapsync by its
// digest cache (--cache-dir). Each contender of each round starts with an
// empty repository and empty caches.

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/snapsync/snapsync/internal/s3test"
)

const (
	// backupEnv turns the backup part off ("off") or runs it alone
	// ("only"); backupRoundsEnv sets its rounds (default 3); backupS3Env
	// set to "off" skips its S3 scenario.
	backupEnv       = "SNAPSYNC_BENCH_BACKUP"
	backupRoundsEnv = "SNAPSYNC_BENCH_BACKUP_ROUNDS"
	backupS3Env     = "SNAPSYNC_BENCH_BACKUP_S3"
	// resticEnv and kopiaEnv name prebuilt binaries to use instead of the
	// ones tools/bench/go.mod pins.
	resticEnv = "SNAPSYNC_RESTIC"
	kopiaEnv  = "SNAPSYNC_KOPIA"

	bkFirst   = "backup: first, directory repository"
	bkSecond  = "backup: second, after 5% new data"
	bkRestore = "backup: restore the second backup"
	bkVerify  = "backup: verify all data"
	bkS3      = "backup: first, S3 (versitygw)"

	bkSnapsync   = "snapsync"
	bkEncrypted  = "snapsync (--key-file)"
	bkRestic     = "restic (compression auto)"
	bkResticOff  = "restic (--compression off)"
	bkKopia      = "kopia (default)"
	bkKopiaZstd  = "kopia (zstd)"
	bkTar        = "tar | zstd -1 -T0"
	benchPass    = "snapsync-bench-password-not-secret"
	s3Region     = "us-east-1"
	backupFilesN = 96 // the target: files in the repository after a first backup of 300 MB
)

// backupBench is the state of the backup part: its contenders and the
// figures that have no column in the main table.
type backupBench struct {
	rounds    int
	s3        bool
	encrypted bool // snapsync backup has --key-file
	restic    string
	kopia     string
	// files are the regular files of each contender's directory
	// repository after its first backup, one per round.
	files map[string][]float64
	// reqs are the S3 requests of each contender's first backup by
	// operation, one map per round.
	reqs map[string][]map[string]int64
	// src is the source path every contender backs up.
	src string
	// failed is why an optional contender stopped, by contender.
	failed map[string]string
}

// backupMode reads backupEnv: "on" (the default), "off" or "only".
func backupMode(tb testing.TB) string {
	switch m := strings.ToLower(strings.TrimSpace(os.Getenv(backupEnv))); m {
	case "", "on":
		return "on"
	case "off", "only":
		return m
	default:
		tb.Fatalf("%s=%q: want on, off or only", backupEnv, m)
		return ""
	}
}

// benchTools returns restic and kopia: $SNAPSYNC_RESTIC and $SNAPSYNC_KOPIA,
// or the versions tools/bench/go.mod pins, built once into a directory of
// os.TempDir keyed by that module file and its go.sum (minutes with a cold
// build cache; later runs reuse them).
func benchTools(tb testing.TB) (restic, kopia string) {
	tb.Helper()
	restic, kopia = os.Getenv(resticEnv), os.Getenv(kopiaEnv)
	if restic != "" && kopia != "" {
		return restic, kopia
	}
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		tb.Fatalf("go env GOMOD: %v", err)
	}
	modDir := filepath.Join(filepath.Dir(strings.TrimSpace(string(out))), "tools", "bench")
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(modDir, f))
		if err != nil {
			tb.Fatal(err)
		}
		h.Write(b)
	}
	dir := filepath.Join(os.TempDir(), "snapsync-benchtools-"+hex.EncodeToString(h.Sum(nil)[:8]))
	build := func(name, pkg string) string {
		bin := filepath.Join(dir, name)
		if _, err := os.Stat(bin); err == nil {
			return bin
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			tb.Fatal(err)
		}
		// Build beside the final name and rename: a concurrent run never
		// runs a half-written file.
		tmp, err := os.MkdirTemp(dir, "build-")
		if err != nil {
			tb.Fatal(err)
		}
		defer os.RemoveAll(tmp)
		start := time.Now()
		cmd := exec.Command("go", "build", "-modfile="+filepath.Join(modDir, "go.mod"), "-o", filepath.Join(tmp, name), pkg)
		if out, err := cmd.CombinedOutput(); err != nil {
			tb.Fatalf("build %s: %v\n%s", pkg, err, out)
		}
		if err := os.Rename(filepath.Join(tmp, name), bin); err != nil {
			tb.Fatal(err)
		}
		tb.Logf("built %s in %v", bin, time.Since(start).Round(time.Second))
		return bin
	}
	if restic == "" {
		restic = build("restic", "github.com/restic/restic/cmd/restic")
	}
	if kopia == "" {
		kopia = build("kopia", "github.com/kopia/kopia")
	}
	return restic, kopia
}

// backupTool is one contender: the commands of each step, run in a
// directory of its own (w) holding its repository, caches and settings.
type backupTool struct {
	name string
	// optional: a failing step drops this contender's rows instead of
	// failing the report (encryption, whose key format is not settled).
	optional bool
	env      func(w *bkWork) []string
	// init makes an empty repository at w.repo (untimed), nil: the first
	// backup makes it.
	init    func(w *bkWork) [][]string
	backup  func(w *bkWork, second bool) []string
	restore func(w *bkWork, dest string) []string
	verify  func(w *bkWork) []string
}

// bkWork is one contender's round: where its repository (a directory, or
// an S3 location), cache and settings live.
type bkWork struct {
	dir, repo, cache, src string
	s3                    *s3Target // nil for a directory repository
}

// s3Target is a prefix in the versitygw bucket, reached through the
// counting proxy.
type s3Target struct {
	endpoint, bucket, prefix, access, secret string
}

func (h *harness) backupTools() []backupTool {
	snap := func(extra func(w *bkWork) []string) backupTool {
		repoArg := func(w *bkWork) string {
			if w.s3 != nil {
				return "s3://" + w.s3.bucket + "/" + w.s3.prefix
			}
			return w.repo
		}
		return backupTool{
			env: func(w *bkWork) []string {
				if w.s3 == nil {
					return nil
				}
				return []string{"AWS_ACCESS_KEY_ID=" + w.s3.access, "AWS_SECRET_ACCESS_KEY=" + w.s3.secret,
					"AWS_ENDPOINT_URL=http://" + w.s3.endpoint, "AWS_REGION=" + s3Region}
			},
			backup: func(w *bkWork, _ bool) []string {
				return append([]string{binary, "backup", "--from", "dir:" + w.src, "--to", repoArg(w), "--cache-dir", w.cache, "--log-level", "warn"}, extra(w)...)
			},
			restore: func(w *bkWork, dest string) []string {
				return append([]string{binary, "restore", "--from", repoArg(w), "--dest", dest, "--log-level", "warn"}, extra(w)...)
			},
			verify: func(w *bkWork) []string {
				return append([]string{binary, "verify", repoArg(w), "--log-level", "warn"}, extra(w)...)
			},
		}
	}
	plain := snap(func(*bkWork) []string { return nil })
	plain.name = bkSnapsync
	tools := []backupTool{plain}
	if h.bk.encrypted {
		enc := snap(func(w *bkWork) []string { return []string{"--key-file", filepath.Join(w.dir, "key")} })
		enc.name, enc.optional = bkEncrypted, true
		enc.init = func(w *bkWork) [][]string {
			key := make([]byte, 32)
			_, _ = rand.Read(key)
			if err := os.WriteFile(filepath.Join(w.dir, "key"), []byte(hex.EncodeToString(key)+"\n"), 0o600); err != nil {
				h.t.Fatal(err)
			}
			return nil
		}
		tools = append(tools, enc)
	}
	restic := func(name string, extra ...string) backupTool {
		repoArg := func(w *bkWork) string {
			if w.s3 != nil {
				return "s3:http://" + w.s3.endpoint + "/" + w.s3.bucket + "/" + w.s3.prefix
			}
			return w.repo
		}
		cmd := func(w *bkWork, args ...string) []string {
			c := []string{h.bk.restic, "-r", repoArg(w), "--cache-dir", w.cache, "-q"}
			if w.s3 != nil {
				c = append(c, "-o", "s3.bucket-lookup=path", "-o", "s3.region="+s3Region)
			}
			return append(append(c, extra...), args...)
		}
		return backupTool{
			name: name,
			env: func(w *bkWork) []string {
				env := []string{"RESTIC_PASSWORD=" + benchPass}
				if w.s3 != nil {
					env = append(env, "AWS_ACCESS_KEY_ID="+w.s3.access, "AWS_SECRET_ACCESS_KEY="+w.s3.secret)
				}
				return env
			},
			init:    func(w *bkWork) [][]string { return [][]string{cmd(w, "init")} },
			backup:  func(w *bkWork, _ bool) []string { return cmd(w, "backup", "--host", "bench", w.src) },
			restore: func(w *bkWork, dest string) []string { return cmd(w, "restore", "latest", "--target", dest) },
			verify:  func(w *bkWork) []string { return cmd(w, "check", "--read-data") },
		}
	}
	kopia := func(name string, policy ...string) backupTool {
		cmd := func(w *bkWork, args ...string) []string {
			return append([]string{h.bk.kopia, "--config-file", filepath.Join(w.dir, "kopia.config"), "--log-dir", filepath.Join(w.dir, "kopia-logs")}, args...)
		}
		return backupTool{
			name: name,
			env: func(*bkWork) []string {
				return []string{"KOPIA_PASSWORD=" + benchPass, "KOPIA_CHECK_FOR_UPDATES=false"}
			},
			init: func(w *bkWork) [][]string {
				create := cmd(w, "repository", "create", "filesystem", "--path", w.repo)
				if w.s3 != nil {
					create = cmd(w, "repository", "create", "s3", "--bucket", w.s3.bucket, "--prefix", w.s3.prefix+"/",
						"--endpoint", w.s3.endpoint, "--disable-tls", "--access-key", w.s3.access, "--secret-access-key", w.s3.secret,
						"--region", s3Region)
				}
				create = append(create, "--cache-directory", w.cache, "--no-check-for-updates")
				cmds := [][]string{create}
				if len(policy) > 0 {
					cmds = append(cmds, cmd(w, append([]string{"policy", "set", "--global"}, policy...)...))
				}
				return cmds
			},
			backup: func(w *bkWork, _ bool) []string { return cmd(w, "snapshot", "create", w.src) },
			restore: func(w *bkWork, dest string) []string {
				return cmd(w, "snapshot", "restore", h.kopiaLatest(cmd(w, "snapshot", "list", "--json", w.src)), dest)
			},
			verify: func(w *bkWork) []string { return cmd(w, "snapshot", "verify", "--verify-files-percent=100") },
		}
	}
	tar := backupTool{
		name: bkTar,
		init: func(w *bkWork) [][]string { return [][]string{{"mkdir", "-p", w.repo}} },
		backup: func(w *bkWork, second bool) []string {
			out := "full.tar.zst"
			if second {
				out = "incr.tar.zst" // GNU tar's incremental: the files whose inode, mtime or ctime changed
			}
			return []string{"sh", "-c", fmt.Sprintf("tar --listed-incremental=%[1]s/snar -C %[2]s -cf - . | zstd -q -1 -T0 > %[1]s/%[3]s", w.repo, w.src, out)}
		},
		restore: func(w *bkWork, dest string) []string {
			return []string{"sh", "-c", fmt.Sprintf("mkdir -p %[2]s && for a in full incr; do zstd -q -d -c %[1]s/$a.tar.zst | tar --listed-incremental=/dev/null -C %[2]s -xf - || exit 1; done", w.repo, dest)}
		},
		verify: func(w *bkWork) []string {
			return []string{"zstd", "-q", "-t", filepath.Join(w.repo, "full.tar.zst"), filepath.Join(w.repo, "incr.tar.zst")}
		},
	}
	return append(tools, restic(bkRestic), restic(bkResticOff, "--compression", "off"),
		kopia(bkKopia), kopia(bkKopiaZstd, "--compression", "zstd"), tar)
}

// kopiaSnapshot is what the harness reads of `kopia snapshot list --json`.
type kopiaSnapshot struct {
	ID        string    `json:"id"`
	StartTime time.Time `json:"startTime"`
}

// kopiaLatest lists the snapshots (untimed) and returns the newest one's ID.
func (h *harness) kopiaLatest(list []string) string {
	cmd := exec.Command(list[0], list[1:]...)
	cmd.Env = append(os.Environ(), "KOPIA_PASSWORD="+benchPass, "KOPIA_CHECK_FOR_UPDATES=false")
	out, err := cmd.Output()
	if err != nil {
		h.t.Fatalf("%v: %v", list, err)
	}
	var snaps []kopiaSnapshot
	if err := json.Unmarshal(out, &snaps); err != nil || len(snaps) == 0 {
		h.t.Fatalf("kopia snapshot list: %v: %q", err, tail(string(out), 500))
	}
	return slices.MaxFunc(snaps, func(a, b kopiaSnapshot) int { return a.StartTime.Compare(b.StartTime) }).ID
}

// backups runs the backup part: rounds of every contender on a directory
// repository, then rounds of first backups to S3.
func (h *harness) backups() {
	for _, tool := range []string{"tar", "zstd", "sync", "rsync"} {
		if _, err := exec.LookPath(tool); err != nil {
			h.t.Fatalf("%s not found: make bench-deps", tool)
		}
	}
	help, _ := exec.Command(binary, "backup", "--help").CombinedOutput()
	h.bk = &backupBench{
		rounds:    envInt(h.t, backupRoundsEnv, 3),
		s3:        !strings.EqualFold(os.Getenv(backupS3Env), "off"),
		encrypted: strings.Contains(string(help), "--key-file"),
		files:     map[string][]float64{},
		reqs:      map[string][]map[string]int64{},
		failed:    map[string]string{},
		src:       filepath.Join(h.dir(), "db"),
	}
	h.bk.restic, h.bk.kopia = benchTools(h.t)
	h.lap("backup tools")
	tools := h.backupTools()
	for r := 0; r < h.bk.rounds; r++ {
		for i := range tools {
			h.backupRound(tools[(i+r)%len(tools)])
		}
	}
	h.lap("backups to a directory")
	if !h.bk.s3 {
		return
	}
	srv := s3test.Start(h.t)
	px := startS3Counter(h.t, srv.URL(), srv.Bucket)
	var s3tools []backupTool
	for _, t := range tools {
		if t.name != bkTar {
			s3tools = append(s3tools, t)
		}
	}
	for r := 0; r < h.bk.rounds; r++ {
		for i := range s3tools {
			t := s3tools[(i+r)%len(s3tools)]
			w := h.bkWork(t)
			w.s3 = &s3Target{endpoint: px.addr, bucket: srv.Bucket, prefix: fmt.Sprintf("r%d-%d", r, h.seq),
				access: srv.AccessKey, secret: srv.SecretKey}
			h.setSource(h.ckpt)
			h.bkInit(t, w)
			before := px.snapshot()
			if h.bkStep(bkS3, h.size, t, w, t.backup(w, false), w.dir) {
				h.bk.reqs[t.name] = append(h.bk.reqs[t.name], diffCounts(px.snapshot(), before))
			}
			h.remove(w.repo)
		}
	}
	h.lap("first backups to S3")
}

// bkWork makes a contender's directory for one round.
func (h *harness) bkWork(t backupTool) *bkWork {
	d := h.dir()
	for _, sub := range []string{"cache", "kopia-logs", "restored"} {
		if err := os.MkdirAll(filepath.Join(d, sub), 0o700); err != nil {
			h.t.Fatal(err)
		}
	}
	return &bkWork{dir: d, repo: filepath.Join(d, "repo"), cache: filepath.Join(d, "cache"), src: h.bk.src}
}

// backupRound runs one contender's first and second backups, restore and
// verify on a directory repository, then removes all of it.
func (h *harness) backupRound(t backupTool) {
	w := h.bkWork(t)
	h.setSource(h.ckpt)
	h.bkInit(t, w)
	defer h.remove(w.repo)
	if !h.bkStep(bkFirst, h.size, t, w, t.backup(w, false), w.repo) {
		return
	}
	h.bk.files[t.name] = append(h.bk.files[t.name], float64(countFiles(h.t, w.repo)))
	h.setSource(h.newer)
	if !h.bkStep(bkSecond, h.newData, t, w, t.backup(w, true), w.repo) {
		return
	}
	dest := filepath.Join(w.dir, "restored", "db")
	if h.bkStep(bkRestore, h.newSize, t, w, t.restore(w, dest), filepath.Dir(dest)) {
		h.bkStep(bkVerify, h.newSize, t, w, t.verify(w), "")
	}
}

// bkInit runs a contender's untimed setup commands.
func (h *harness) bkInit(t backupTool, w *bkWork) {
	if t.init == nil {
		return
	}
	for _, c := range t.init(w) {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Env = append(os.Environ(), h.bkEnv(t, w)...)
		h.run(cmd)
	}
}

func (h *harness) bkEnv(t backupTool, w *bkWork) []string {
	if t.env == nil {
		return nil
	}
	return t.env(w)
}

// bkStep runs one timed step through the rusage wrapper, then syncs
// syncDir (when not ""), inside the clock, and adds the sample to the row
// of scenario. It fails the report when the step fails, but for an
// optional contender: that one's failure is recorded and bkStep returns
// false.
func (h *harness) bkStep(scenario string, bytes int64, t backupTool, w *bkWork, argv []string, syncDir string) bool {
	if h.bk.failed[t.name] != "" {
		return false
	}
	rss := filepath.Join(h.dir(), "rusage")
	start := time.Now()
	cmd := exec.Command(os.Args[0], argv...)
	cmd.Env = append(append(os.Environ(), h.bkEnv(t, w)...), measureEnv+"="+rss)
	if out, err := cmd.CombinedOutput(); err != nil {
		msg := fmt.Sprintf("%s: %v: %v\n%s", t.name, argv, err, tail(string(out), 4000))
		if !t.optional {
			h.t.Fatal(msg)
		}
		h.t.Log(msg)
		h.bk.failed[t.name] = fmt.Sprintf("%s failed: %v: %s", strings.Join(argv[1:3], " "), err, tail(strings.TrimSpace(string(out)), 200))
		return false
	}
	if syncDir != "" {
		h.run(exec.Command("sync", "-f", syncDir))
	}
	s := sample{wall: time.Since(start), localRead: -1}
	s.rss, s.cpu = readRusage(h.t, rss)
	h.add(scenario, t.name, bytes, s)
	return true
}

// setSource makes the backed-up directory hold src's content (untimed):
// rsync keeps each file whose content is already there as it is (its
// inode, mtime and ctime), as a DB directory keeps its unchanged SSTs.
func (h *harness) setSource(src string) {
	if err := os.MkdirAll(h.bk.src, 0o755); err != nil {
		h.t.Fatal(err)
	}
	h.run(exec.Command("rsync", "-a", "--delete", "--checksum", src+"/", h.bk.src+"/"))
	h.run(exec.Command("sync", "-f", h.bk.src))
}

// countFiles counts the regular files under root.
func countFiles(tb testing.TB, root string) int {
	n := 0
	err := filepath.WalkDir(root, func(_ string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			n++
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return n
}

// s3Counter is a reverse proxy in front of an S3 server that counts the
// requests by operation. It keeps the client's Host header, which its
// request signatures cover.
type s3Counter struct {
	addr   string
	bucket string
	mu     sync.Mutex
	n      map[string]int64
}

func startS3Counter(tb testing.TB, target, bucket string) *s3Counter {
	tb.Helper()
	u, err := url.Parse(target)
	if err != nil {
		tb.Fatal(err)
	}
	c := &s3Counter{bucket: bucket, n: map[string]int64{}}
	rp := &httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(u)
		r.Out.Host = r.In.Host
	}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := s3Op(r, c.bucket)
		c.mu.Lock()
		c.n[op]++
		c.mu.Unlock()
		rp.ServeHTTP(w, r)
	}))
	tb.Cleanup(srv.Close)
	c.addr = srv.Listener.Addr().String()
	return c
}

// s3Op names a request's operation: the method, LIST for a listing of the
// bucket, POST and PUT of multipart uploads apart.
func s3Op(r *http.Request, bucket string) string {
	key := strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/"+bucket), "/")
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodGet && key == "" && !q.Has("location"):
		return "LIST"
	case r.Method == http.MethodPut && q.Has("partNumber"):
		return "PUT (part)"
	case r.Method == http.MethodPost && q.Has("delete"):
		return "DELETE (batch)"
	}
	return r.Method
}

func (c *s3Counter) snapshot() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := make(map[string]int64, len(c.n))
	for k, v := range c.n {
		m[k] = v
	}
	return m
}

func diffCounts(after, before map[string]int64) map[string]int64 {
	d := map[string]int64{}
	for k, v := range after {
		if v -= before[k]; v != 0 {
			d[k] = v
		}
	}
	return d
}

// totalRequests is the median over rounds of one contender's S3 requests.
func (b *backupBench) totalRequests(contender string) float64 {
	var xs []float64
	for _, m := range b.reqs[contender] {
		var n int64
		for _, v := range m {
			n += v
		}
		xs = append(xs, float64(n))
	}
	if len(xs) == 0 {
		return math.NaN()
	}
	return median(xs)
}

// backupNotes is the report's paragraph and table for the backup part.
func (h *harness) backupNotes() string {
	b := h.bk
	if b == nil {
		return ""
	}
	var s strings.Builder
	fmt.Fprintf(&s, "Issue 22's backup scenarios (%s=off skips them, =only runs them alone; %d round(s), %s): "+
		"every contender backs up one source directory that the harness sets, untimed, to the older checkpoint's content and then to the newer one's "+
		"(`rsync -a --delete --checksum`, so files both share keep their inode, mtime and ctime, as in a live DB directory); "+
		"each contender of each round starts with an empty repository and empty caches, which it keeps from its first backup to its second "+
		"(snapsync `--cache-dir`, restic `--cache-dir`, kopia `--cache-directory`, GNU tar `--listed-incremental`). "+
		"Restore restores the second backup into an empty directory (tar|zstd: the full archive, then the incremental one); verify reads all data "+
		"(snapsync `verify`, restic `check --read-data`, kopia `snapshot verify --verify-files-percent=100`, `zstd -t` of both archives). "+
		"Steps end with `sync -f` inside the clock. restic %s and kopia %s are built from the module proxy as tools/bench/go.mod pins them; "+
		"passwords from the environment; restic `init` and kopia `repository create` (and kopia's `policy set`) are not timed, snapsync's first backup makes its repository itself; kopia's automatic maintenance, which runs when due (after a new repository's first snapshot), is inside its timed backup, as by default. "+
		"The S3 rows back up to versitygw (POSIX backend, same disk) through a counting reverse proxy on 127.0.0.1, each run under a prefix of its own; "+
		"their server CPU is not measured. Encrypted snapsync (`--key-file`): %s.\n\n",
		backupEnv, b.rounds, backupRoundsEnv, resticVersion, kopiaVersion, map[bool]string{true: "measured (the snapsync (--key-file) rows)", false: "not built yet (`snapsync backup --help` has no --key-file)"}[b.encrypted])
	var ops []string
	for _, ms := range b.reqs {
		for _, m := range ms {
			for k := range m {
				if !slices.Contains(ops, k) {
					ops = append(ops, k)
				}
			}
		}
	}
	slices.Sort(ops)
	s.WriteString("| contender | files in the directory repository after the first backup | S3 requests of the first backup, total | " + strings.Join(ops, " | ") + " |\n")
	s.WriteString("| --- | --- | --- |" + strings.Repeat(" --- |", len(ops)) + "\n")
	for _, t := range h.backupTools() {
		row := fmt.Sprintf("| %s | %s | %s |", cell(t.name), medCell(b.files[t.name]), fmtNaN(b.totalRequests(t.name)))
		for _, op := range ops {
			var xs []float64
			for _, m := range b.reqs[t.name] {
				xs = append(xs, float64(m[op]))
			}
			row += " " + medCell(xs) + " |"
		}
		s.WriteString(row + "\n")
	}
	return s.String() + "\n"
}

func medCell(xs []float64) string {
	if len(xs) == 0 {
		return "—"
	}
	return fmt.Sprintf("%.0f", median(xs))
}

func fmtNaN(v float64) string {
	if math.IsNaN(v) {
		return "—"
	}
	return fmt.Sprintf("%.0f", v)
}

// resticVersion and kopiaVersion are what tools/bench/go.mod pins (the
// report names them; TestBenchToolsPinned checks they agree).
const (
	resticVersion = "0.19.1"
	kopiaVersion  = "0.21.1"
)

// backupTargets are issue 22's targets.
func (h *harness) backupTargets() []target {
	wall := func(s sample) float64 { return s.wall.Seconds() }
	ratio := func(sc, a, b string) float64 { return h.med(sc, a, wall) / h.med(sc, b, wall) }
	filesT := target{name: fmt.Sprintf("files in the repository after a first backup ≤ %d (at a %.0f MB DB; the target is for 300 MB)", backupFilesN, float64(h.size)/1e6),
		measured: math.NaN(), want: backupFilesN}
	reqT := target{name: "first backup to S3: requests ≤ 2× kopia's", measured: math.NaN(), want: 2, unit: "×"}
	if h.bk != nil {
		if xs := h.bk.files[bkSnapsync]; len(xs) > 0 {
			filesT.measured = median(xs)
			filesT.note = fmt.Sprintf(" (restic %s, kopia %s)", medCell(h.bk.files[bkRestic]), medCell(h.bk.files[bkKopia]))
		}
		reqT.measured = h.bk.totalRequests(bkSnapsync) / h.bk.totalRequests(bkKopia)
		reqT.note = fmt.Sprintf(" (%s vs %s)", fmtNaN(h.bk.totalRequests(bkSnapsync)), fmtNaN(h.bk.totalRequests(bkKopia)))
	}
	enc := target{name: "encrypted vs plaintext snapsync, first backup ≤ 1.15×", measured: ratio(bkFirst, bkEncrypted, bkSnapsync), want: 1.15, unit: "×"}
	if s3 := ratio(bkS3, bkEncrypted, bkSnapsync); !math.IsNaN(s3) && !math.IsInf(s3, 0) {
		enc.note = fmt.Sprintf(" (to S3: %.2f×)", s3)
	}
	if h.bk != nil && !h.bk.encrypted {
		enc.missing = "not built yet (no --key-file)"
	} else if h.bk != nil && h.bk.failed[bkEncrypted] != "" {
		enc.missing = h.bk.failed[bkEncrypted]
	}
	return []target{
		{name: "first backup ≤ 1.0× kopia's time", measured: ratio(bkFirst, bkSnapsync, bkKopia), want: 1, unit: "×"},
		{name: "first backup ≤ 0.8× restic's time", measured: ratio(bkFirst, bkSnapsync, bkRestic), want: 0.8, unit: "×"},
		{name: "second backup after 5% new data ≤ 1.0× kopia's time", measured: ratio(bkSecond, bkSnapsync, bkKopia), want: 1, unit: "×"},
		{name: "restore ≤ 0.7× kopia's time", measured: ratio(bkRestore, bkSnapsync, bkKopia), want: 0.7, unit: "×"},
		{name: "verify ≤ 1.0× kopia's time", measured: ratio(bkVerify, bkSnapsync, bkKopia), want: 1, unit: "×"},
		{name: "first backup to S3 ≤ 1.0× kopia's time", measured: ratio(bkS3, bkSnapsync, bkKopia), want: 1, unit: "×"},
		reqT,
		filesT,
		enc,
	}
}

// TestBenchS3Op names S3 requests as the report counts them.
func TestBenchS3Op(t *testing.T) {
	t.Parallel()
	testCases := []struct {
		method, target, want string
	}{
		{"GET", "/b?list-type=2&prefix=r0%2F", "LIST"},
		{"GET", "/b/", "LIST"},
		{"GET", "/b?location", "GET"},
		{"GET", "/b/data/ab/abcd", "GET"},
		{"HEAD", "/b/config", "HEAD"},
		{"PUT", "/b/data/ab/abcd", "PUT"},
		{"PUT", "/b/big?partNumber=2&uploadId=x", "PUT (part)"},
		{"POST", "/b/big?uploads", "POST"},
		{"POST", "/b?delete", "DELETE (batch)"},
		{"DELETE", "/b/locks/x", "DELETE"},
	}
	for _, tc := range testCases {
		t.Run(tc.method+" "+tc.target, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest(tc.method, tc.target, nil)
			if got := s3Op(r, "b"); got != tc.want {
				t.Fatalf("s3Op = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestBenchBackupTargets: every issue 22 target has a row, one that did not
// run says so, and encryption not built yet says that instead of a figure.
func TestBenchBackupTargets(t *testing.T) {
	t.Parallel()
	h := &harness{size: 300e6, bk: &backupBench{files: map[string][]float64{bkSnapsync: {40, 50, 60}}, reqs: map[string][]map[string]int64{
		bkSnapsync: {{"PUT": 30, "HEAD": 2}}, bkKopia: {{"PUT": 40, "LIST": 8}}}}}
	h.rows = []*benchRow{
		{scenario: bkFirst, contender: bkSnapsync, samples: []sample{{wall: 2 * time.Second}}},
		{scenario: bkFirst, contender: bkKopia, samples: []sample{{wall: 4 * time.Second}}},
	}
	var got strings.Builder
	for _, tg := range h.backupTargets() {
		got.WriteString(tg.markdown())
	}
	for _, want := range []string{
		"| first backup ≤ 1.0× kopia's time | 0.50× | met |\n",
		"| first backup ≤ 0.8× restic's time | not measured | — |\n",
		"| first backup to S3: requests ≤ 2× kopia's | 0.67× (32 vs 48) | met |\n",
		"| files in the repository after a first backup ≤ 96 (at a 300 MB DB; the target is for 300 MB) | 50.00 (restic —, kopia —) | met |\n",
		"| encrypted vs plaintext snapsync, first backup ≤ 1.15× | not built yet (no --key-file) | — |\n",
	} {
		if !strings.Contains(got.String(), want) {
			t.Errorf("targets lack %q:\n%s", want, got.String())
		}
	}
	if n := strings.Count(got.String(), "\n"); n != 9 {
		t.Errorf("%d target rows, want 9", n)
	}
	// A backup's RSS is not an install's: issue 11's peak stays out of it,
	// and its row has no plan counts.
	h.rows[0].samples[0].rss = 500 << 20
	if p := h.peak("client", func(s sample) int64 { return s.rss }); p.measured != 0 {
		t.Errorf("install peak RSS counts a backup: %.0f MiB", p.measured)
	}
	if row := h.rows[0].markdown(); !strings.HasSuffix(row, "| — |\n") {
		t.Errorf("backup row has plan counts: %q", row)
	}
	h.bk.encrypted = true
	h.rows = append(h.rows,
		&benchRow{scenario: bkFirst, contender: bkEncrypted, samples: []sample{{wall: 2200 * time.Millisecond}}},
		&benchRow{scenario: bkS3, contender: bkSnapsync, samples: []sample{{wall: 4 * time.Second}}},
		&benchRow{scenario: bkS3, contender: bkEncrypted, samples: []sample{{wall: 4200 * time.Millisecond}}})
	if enc := h.backupTargets()[8].markdown(); enc != "| encrypted vs plaintext snapsync, first backup ≤ 1.15× | 1.10× (to S3: 1.05×) | met |\n" {
		t.Errorf("a measured encrypted run shows %q", enc)
	}
	h.bk.failed = map[string]string{bkEncrypted: "backup --from failed: exit status 2"}
	if enc := h.backupTargets()[8].markdown(); !strings.Contains(enc, "| backup --from failed: exit status 2 | — |") {
		t.Errorf("a failed encrypted run shows %q", enc)
	}
}

// TestBenchToolsPinned: the versions the report names are the ones
// tools/bench/go.mod pins.
func TestBenchToolsPinned(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "tools", "bench", "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"github.com/restic/restic v" + resticVersion, "github.com/kopia/kopia v" + kopiaVersion} {
		if !strings.Contains(string(b), want) {
			t.Errorf("tools/bench/go.mod does not pin %s", want)
		}
	}
}
