package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// The flood: floodConns unauthenticated connections against a leader whose
// open-file limit (leaderNofile) they exceed by half, held while an
// authenticated install must finish within floodInstallBound.
const (
	floodConns        = 6000
	leaderNofile      = 4096
	floodInstallBound = 60 * time.Second
	// floodMaxFDs bounds the leader's open files under the flood: the
	// default connection cap at leaderNofile (half of it) plus what the
	// sidecar holds besides connections (the DB, its checkpoint, pipes).
	floodMaxFDs = leaderNofile/2 + 256
	floodPath   = "/snapsync.v1.SnapshotService/CreateSnapshot"
)

// TestConnectionFlood starts the real `snapsync serve` with token auth and
// RLIMIT_NOFILE lowered to 4096 (prlimit), opens 6,000 idle unauthenticated
// connections of four kinds (HTTP/1.1 that send one request and keep the
// connection, HTTP/2 that send one request and then only answer pings,
// HTTP/2 that never send a request and answer pings, TCP that send
// nothing) and holds them; then an authenticated install must finish and
// be exact within 60 s, /metrics must answer, and the connection cap's
// refusals must show in the metric and the audit log. It logs the
// connections still held, the leader's open files and resident set, and the
// install's time.
func TestConnectionFlood(t *testing.T) {
	prlimit, err := exec.LookPath("prlimit")
	if err != nil {
		t.Skip("prlimit (util-linux) is not installed")
	}
	raiseNofile(t, floodConns+1024)
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("flood-test-peer-token-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "leader-db")
	writePebble(t, db, sampledb.Fill{Seed: 41, Bytes: 4 << 20})
	want := pristine(t, db)
	margs, maddr := metricsArgs(t)
	srv := runServeUnder(t, []string{prlimit, "--nofile=" + strconv.Itoa(leaderNofile) + ":" + strconv.Itoa(leaderNofile), "--"},
		"pebble:"+db, append(margs, "--token-file", token, "--work-dir", filepath.Join(t.TempDir(), "work"))...)
	pid := srv.cmd.Process.Pid
	follower := newPeerClient(t, token)
	if reused := follower.call(t, srv.URL); reused {
		t.Fatal("the first call reused a connection")
	}

	fl := &flood{addr: srv.Addr}
	t.Cleanup(fl.close)
	start := time.Now()
	fl.open(floodConns)
	time.Sleep(2 * time.Second) // let the leader accept, refuse and time out what it will
	t.Logf("flood: %d connections dialled in %s (%d dials failed), %d held open (%s); leader: %d open files, RSS %d MiB",
		fl.dialled.Load(), time.Since(start).Round(time.Millisecond), fl.dialFailed.Load(), fl.held.Load(), fl.heldKinds(),
		procFDs(pid), procRSS(pid)>>20)

	dest := filepath.Join(dir, "follower", "db")
	ctx, cancel := context.WithTimeout(context.Background(), floodInstallBound)
	defer cancel()
	began := time.Now()
	r := runSnapsync(ctx, nil, "install", "--from", srv.URL, "--dest", dest, "--json", "--token-file", token,
		"--log-level", "error")
	took := time.Since(began)
	fds, rss, hwm := procFDs(pid), procRSS(pid), procHWM(pid)
	t.Logf("install under the flood: %s (err %v); %d flood connections still held; leader: %d open files, RSS %d MiB (peak %d MiB)",
		took.Round(time.Millisecond), r.Err, fl.held.Load(), fds, rss>>20, hwm>>20)
	if r.Err != nil {
		t.Errorf("install under a flood of %d connections failed after %s: %v\n%s", floodConns, took.Round(time.Millisecond), r.Err, tail(r.Stderr, 2000))
	} else {
		comparePebble(t, want, dest)
	}
	if reused := follower.call(t, srv.URL); !reused {
		t.Errorf("the authenticated HTTP/2 connection opened before the flood did not survive it")
	}
	if fds > floodMaxFDs {
		t.Errorf("the leader holds %d open files under the flood, want at most %d", fds, floodMaxFDs)
	}
	mfs, err := scrapeWithin(maddr, 10*time.Second)
	if err != nil {
		t.Errorf("/metrics under the flood: %v", err)
	} else if n := sumSeries(mfs, "snapsync_connections_refused_total", "listener", "peer"); n <= 0 {
		t.Errorf("snapsync_connections_refused_total{listener=\"peer\"} = %v, want > 0", n)
	} else {
		t.Logf("snapsync_connections_refused_total{listener=\"peer\"} = %v; snapsync_connections: %v authenticated, %v unauthenticated (max %v, reserved %v)",
			n, sumSeries(mfs, "snapsync_connections", "state", "authenticated"), sumSeries(mfs, "snapsync_connections", "state", "unauthenticated"),
			value(mfs, "snapsync_connections_max", ""), value(mfs, "snapsync_connections_reserved", ""))
	}

	fl.close()
	srv.stop()
	logs := srv.logs.String()
	for _, want := range []string{`"audit":"refused"`, `"listener":"peer"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the leader's log lacks %s", want)
		}
	}
	if strings.Contains(logs, "too many open files") {
		t.Errorf("the leader ran out of file descriptors:\n%s", tail(grepLines(logs, "too many open files"), 1000))
	}
}

// peerClient is an authenticated peer holding one HTTP/2 connection (h2c).
type peerClient struct {
	hc    *http.Client
	token string
}

func newPeerClient(tb testing.TB, tokenFile string) *peerClient {
	tb.Helper()
	tok, err := os.ReadFile(tokenFile)
	if err != nil {
		tb.Fatal(err)
	}
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	tr := &http.Transport{Protocols: &p}
	tb.Cleanup(tr.CloseIdleConnections)
	return &peerClient{hc: &http.Client{Transport: tr, Timeout: 10 * time.Second}, token: strings.TrimSpace(string(tok))}
}

// call makes an authenticated call (GetManifest of nothing: refused as a
// bad request, after authentication) and reports whether it reused the
// client's connection.
func (p *peerClient) call(tb testing.TB, url string) bool {
	tb.Helper()
	var reused bool
	trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { reused = i.Reused }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace), http.MethodPost,
		url+"/snapsync.v1.SnapshotService/GetManifest", strings.NewReader("{}"))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+p.token)
	resp, err := p.hc.Do(req)
	if err != nil {
		tb.Fatalf("authenticated call: %v", err)
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		tb.Fatal(err)
	}
	if resp.StatusCode == http.StatusUnauthorized || resp.ProtoMajor != 2 {
		tb.Fatalf("authenticated call: %s over %s", resp.Status, resp.Proto)
	}
	return reused
}

// raiseNofile raises this process's soft open-file limit to its hard limit
// (restored at the end) and skips the test when that is below need.
func raiseNofile(tb testing.TB, need uint64) {
	tb.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		tb.Fatal(err)
	}
	if old := lim; lim.Cur < lim.Max {
		lim.Cur = lim.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() {
			if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old); err != nil {
				tb.Error(err)
			}
		})
	}
	if lim.Cur < need {
		tb.Skipf("the open-file limit is %d, the flood needs %d", lim.Cur, need)
	}
}

// flood opens and holds connections to addr.
type flood struct {
	addr                string
	dialled, dialFailed atomic.Int64
	held                atomic.Int64    // dialled and not yet closed by the server
	heldBy              [4]atomic.Int64 // held, by kind
	mu                  sync.Mutex
	conns               []net.Conn
	wg                  sync.WaitGroup
}

// open dials n connections, 64 at a time, and starts holding each as one of
// the four kinds in turn.
func (f *flood) open(n int) {
	kinds := []func(net.Conn){holdHTTP1, func(c net.Conn) { holdHTTP2(c, true) }, func(c net.Conn) { holdHTTP2(c, false) }, holdSilent}
	jobs := make(chan int)
	var dialers sync.WaitGroup
	for range 64 {
		dialers.Add(1)
		go func() {
			defer dialers.Done()
			for i := range jobs {
				c, err := net.DialTimeout("tcp", f.addr, 5*time.Second)
				if err != nil {
					f.dialFailed.Add(1)
					continue
				}
				f.dialled.Add(1)
				f.held.Add(1)
				f.heldBy[i%len(kinds)].Add(1)
				f.mu.Lock()
				f.conns = append(f.conns, c)
				f.mu.Unlock()
				f.wg.Add(1)
				go func() {
					defer f.wg.Done()
					defer f.held.Add(-1)
					defer f.heldBy[i%len(kinds)].Add(-1)
					kinds[i%len(kinds)](c)
				}()
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	dialers.Wait()
}

// heldKinds says how many of each kind are held.
func (f *flood) heldKinds() string {
	return fmt.Sprintf("HTTP/1.1 after a request %d, HTTP/2 after a request %d, HTTP/2 without one %d, silent %d",
		f.heldBy[0].Load(), f.heldBy[1].Load(), f.heldBy[2].Load(), f.heldBy[3].Load())
}

// close closes every connection and waits for their holders.
func (f *flood) close() {
	f.mu.Lock()
	for _, c := range f.conns {
		_ = c.Close() // a connection the server closed fails to close again; nothing to do
	}
	f.conns = nil
	f.mu.Unlock()
	f.wg.Wait()
}

// holdHTTP1 sends one unauthenticated request and reads until the server
// closes the connection.
func holdHTTP1(c net.Conn) {
	fmt.Fprintf(c, "POST %s HTTP/1.1\r\nHost: snapsync\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}", floodPath)
	_, _ = io.Copy(io.Discard, c) // ends when the server closes it
}

// holdSilent sends nothing and waits until the server closes the connection.
func holdSilent(c net.Conn) { _, _ = io.Copy(io.Discard, c) }

// holdHTTP2 speaks HTTP/2 with prior knowledge (h2c): the preface, then,
// with request, one unauthenticated request; then it acknowledges the
// server's settings and answers its pings until the server closes the
// connection.
func holdHTTP2(c net.Conn, request bool) {
	out := []byte("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	out = appendFrame(out, 0x4, 0, 0, nil) // SETTINGS
	if request {
		var hb []byte
		for _, kv := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":path", floodPath},
			{":authority", "snapsync"}, {"content-type", "application/json"}} {
			hb = appendLiteral(hb, kv[0], kv[1])
		}
		out = appendFrame(out, 0x1, 0x1|0x4, 1, hb) // HEADERS, END_STREAM|END_HEADERS
	}
	if _, err := c.Write(out); err != nil {
		return
	}
	hdr := make([]byte, 9)
	for {
		if _, err := io.ReadFull(c, hdr); err != nil {
			return
		}
		payload := make([]byte, int(hdr[0])<<16|int(hdr[1])<<8|int(hdr[2]))
		if _, err := io.ReadFull(c, payload); err != nil {
			return
		}
		var ack []byte
		switch typ, flags := hdr[3], hdr[4]; {
		case typ == 0x4 && flags&0x1 == 0: // SETTINGS: acknowledge
			ack = appendFrame(nil, 0x4, 0x1, 0, nil)
		case typ == 0x6 && flags&0x1 == 0: // PING: answer
			ack = appendFrame(nil, 0x6, 0x1, 0, payload)
		}
		if ack != nil {
			if _, err := c.Write(ack); err != nil {
				return
			}
		}
	}
}

// appendFrame appends an HTTP/2 frame.
func appendFrame(b []byte, typ, flags byte, stream uint32, payload []byte) []byte {
	n := len(payload)
	b = append(b, byte(n>>16), byte(n>>8), byte(n), typ, flags,
		byte(stream>>24), byte(stream>>16), byte(stream>>8), byte(stream))
	return append(b, payload...)
}

// appendLiteral appends an HPACK "literal header field without indexing,
// new name" with raw strings (each shorter than 127 bytes).
func appendLiteral(b []byte, name, value string) []byte {
	b = append(b, 0x00, byte(len(name)))
	b = append(b, name...)
	b = append(b, byte(len(value)))
	return append(b, value...)
}

// procFDs counts pid's open files.
func procFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// procRSS is pid's resident set (VmRSS).
func procRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n << 10
		}
	}
	return 0
}

// scrapeWithin GETs /metrics from the address in addrFile, giving up after d.
func scrapeWithin(addrFile string, d time.Duration) (map[string]*dto.MetricFamily, error) {
	addr, err := os.ReadFile(addrFile)
	if err != nil {
		return nil, err
	}
	hc := &http.Client{Timeout: d}
	resp, err := hc.Get("http://" + string(addr) + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, errors.New(resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	return p.TextToMetricFamilies(resp.Body)
}

// sumSeries sums the counter or gauge values of name's series labelled
// label=v; -1 when name is absent.
func sumSeries(mfs map[string]*dto.MetricFamily, name, label, v string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
	var sum float64
	for _, m := range mf.GetMetric() {
		if hasLabel(m, label, v) {
			sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
		}
	}
	return sum
}

// grepLines keeps the lines of s that contain sub.
func grepLines(s, sub string) string {
	var keep []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}
