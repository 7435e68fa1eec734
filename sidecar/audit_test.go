package sidecar

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/internal/testlog"
	"github.com/snapsync/snapsync/metrics"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
)

// auditLines returns the JSON log lines of buf whose "audit" field is audit.
func auditLines(tb testing.TB, buf *testlog.Buffer, audit string) []map[string]any {
	tb.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			tb.Fatalf("log line %q: %v", line, err)
		}
		if m["audit"] == audit {
			out = append(out, m)
		}
	}
	return out
}

// wantFields fails unless line has each field of want, numbers compared as
// JSON gives them (float64).
func wantFields(tb testing.TB, line map[string]any, want map[string]any) {
	tb.Helper()
	for k, v := range want {
		if line[k] != v {
			tb.Errorf("audit %v: %s = %v (%T), want %v (%T)", line["audit"], k, line[k], line[k], v, v)
		}
	}
}

// gathered returns the value of the counter, gauge or histogram count
// named name whose labels include labels, summed over the series that match.
func gathered(tb testing.TB, reg *prometheus.Registry, name string, labels map[string]string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if want, ok := labels[lp.GetName()]; ok && want != lp.GetValue() {
					continue series
				}
			}
			switch {
			case m.GetCounter() != nil:
				sum += m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				sum += m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				sum += float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	return sum
}

// TestAuditAndMetrics installs through the local API on a unix socket from
// a leader in the same process, both sharing one registry, and checks the
// audit lines of CreateSnapshot, the Prepare, a Commit, a refused Commit
// and an Abort, and the figures counted.
func TestAuditAndMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := metrics.New(reg, false)
	if err != nil {
		t.Fatal(err)
	}
	var leaderLog, localLog testlog.Buffer
	srv, err := server.New(context.Background(), server.Config{Source: openLeader(t, 2<<20),
		WorkDir: filepath.Join(t.TempDir(), "work"), ChunkSize: testChunkSize, Metrics: m, Logger: zerolog.New(&leaderLog)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	pln, err := Listen("127.0.0.1:0", false)
	if err != nil {
		t.Fatal(err)
	}
	stopPeer := serve(t, pln, PeerHandler(srv.Handler()))
	t.Cleanup(func() { srv.Close(); stopPeer() }) // ends streams before the listener
	peerURL := "http://" + pln.Addr().String()

	root := t.TempDir()
	svc, err := NewInstallService(InstallConfig{AllowedRoots: []string{root}, Metrics: m, Logger: zerolog.New(&localLog)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	sock := socketPath(t)
	ln, err := Listen("unix:"+sock, false)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, LocalHandler(svc, nil), server.WithConnContext(ConnContext)) }()
	t.Cleanup(func() { cancel(); <-done })
	c := snapsyncv1connect.NewInstallServiceClient(unixHTTPClient(sock), "http://sidecar")

	dest := filepath.Join(root, "db")
	info := prepare(t, c, peerURL, 0, dest)
	commit(t, c, dest, info.GetSnapshotId())
	wantCode(t, commitErr(c, dest, make([]byte, 32)), connect.CodeFailedPrecondition)
	if _, err := c.Abort(context.Background(), connect.NewRequest(&snapsyncv1.AbortRequest{Dest: dest})); err != nil {
		t.Fatal(err)
	}

	id := hex.EncodeToString(info.GetSnapshotId())
	caller := "uid:" + strconv.Itoa(os.Getuid())
	creates := auditLines(t, &leaderLog, server.AuditCreateSnapshot)
	if len(creates) != 1 {
		t.Fatalf("%d create_snapshot audit lines, want 1:\n%s", len(creates), leaderLog.String())
	}
	wantFields(t, creates[0], map[string]any{"snapshot": id, "term": 3.0, "index": 42.0, "outcome": "ok",
		"bytes": float64(info.GetTotalBytes()), "min_index": 0.0, "level": "info"})
	if p, _ := creates[0]["peer"].(string); !strings.HasPrefix(p, "127.0.0.1:") {
		t.Errorf("create_snapshot peer %q", p)
	}
	installs := auditLines(t, &localLog, AuditInstall)
	if len(installs) != 1 {
		t.Fatalf("%d install audit lines, want 1:\n%s", len(installs), localLog.String())
	}
	fetched := gathered(t, reg, "snapsync_client_received_bytes_total", nil)
	wantFields(t, installs[0], map[string]any{"dest": dest, "source": peerURL, "snapshot": id, "term": 3.0,
		"index": 42.0, "fetched": fetched, "reused": 0.0, "outcome": "ok"})
	commits := auditLines(t, &localLog, AuditCommit)
	if len(commits) != 2 {
		t.Fatalf("%d commit audit lines, want 2:\n%s", len(commits), localLog.String())
	}
	wantFields(t, commits[0], map[string]any{"dest": dest, "snapshot": id, "index": 42.0, "outcome": "ok", "caller": caller})
	wantFields(t, commits[1], map[string]any{"dest": dest, "outcome": "NOT_STAGED", "caller": caller, "level": "warn"})
	aborts := auditLines(t, &localLog, AuditAbort)
	if len(aborts) != 1 {
		t.Fatalf("%d abort audit lines, want 1:\n%s", len(aborts), localLog.String())
	}
	wantFields(t, aborts[0], map[string]any{"dest": dest, "snapshot": "", "outcome": "ok", "caller": caller})

	for _, tc := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"snapsync_server_create_snapshot_total", map[string]string{"outcome": "ok"}, 1},
		{"snapsync_server_checkpoint_duration_seconds", nil, 1},
		{"snapsync_server_checkpoints", nil, 0}, // the install released its lease
		{"snapsync_server_leases", nil, 0},
		{"snapsync_server_lease_expiries_total", nil, 0},
		{"snapsync_server_active_streams", nil, 0},
		{"snapsync_server_sent_bytes_total", nil, fetched},
		{"snapsync_installs_total", map[string]string{"outcome": "ok"}, 1},
		{"snapsync_install_duration_seconds", nil, 1},
		{"snapsync_commits_total", map[string]string{"outcome": "ok"}, 1},
		{"snapsync_commits_total", map[string]string{"outcome": "NOT_STAGED"}, 1},
		{"snapsync_aborts_total", map[string]string{"outcome": "ok"}, 1},
		{"snapsync_client_chunks_refused_total", nil, 0},
	} {
		if got := gathered(t, reg, tc.name, tc.labels); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}
	if fetched <= 0 || gathered(t, reg, "snapsync_client_chunks_verified_total", nil) <= 0 {
		t.Errorf("nothing fetched or verified: %v bytes", fetched)
	}
	if free := gathered(t, reg, "snapsync_staging_free_bytes", map[string]string{"root": root}); free <= 0 {
		t.Errorf("staging free bytes %v", free)
	}
}
