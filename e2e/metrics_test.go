package e2e

import (
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/internal/testwait"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// metricsArgs are the serve flags of a metrics endpoint on loopback whose
// address is written to a file, and that file.
func metricsArgs(tb testing.TB) ([]string, string) {
	f := filepath.Join(tb.TempDir(), "metrics-addr")
	return []string{"--metrics-listen", "127.0.0.1:0", "--metrics-addr-file", f}, f
}

// scrape GETs /metrics from the address written in addrFile and parses it.
func scrape(tb testing.TB, addrFile string) map[string]*dto.MetricFamily {
	tb.Helper()
	var addr []byte
	testwait.Eventually(tb, 10*time.Second, func() (bool, string) {
		addr, _ = os.ReadFile(addrFile) // absent until it listens
		return len(addr) > 0, "no metrics address in " + addrFile
	})
	resp, err := http.Get("http://" + string(addr) + "/metrics")
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET /metrics: %s", resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return mfs
}

// value is the counter or gauge value, or the histogram's count, of the
// series of name with label outcome (when given); -1 when there is none.
func value(mfs map[string]*dto.MetricFamily, name, outcome string) float64 {
	mf := mfs[name]
	if mf == nil {
		return -1
	}
	for _, m := range mf.GetMetric() {
		if outcome != "" && !hasLabel(m, "outcome", outcome) {
			continue
		}
		switch {
		case m.GetCounter() != nil:
			return m.GetCounter().GetValue()
		case m.GetGauge() != nil:
			return m.GetGauge().GetValue()
		case m.GetHistogram() != nil:
			return float64(m.GetHistogram().GetSampleCount())
		}
	}
	return -1
}

func hasLabel(m *dto.Metric, name, v string) bool {
	for _, lp := range m.GetLabel() {
		if lp.GetName() == name && lp.GetValue() == v {
			return true
		}
	}
	return false
}

// TestMetricsAfterInstall runs a leader and a follower sidecar with
// --metrics-listen, installs through the follower's local API (Prepare,
// Commit), then scrapes both endpoints and checks their figures against
// the install's own.
func TestMetricsAfterInstall(t *testing.T) {
	t.Parallel()
	leaderDB := filepath.Join(t.TempDir(), "leader")
	writePebble(t, leaderDB, sampledb.Fill{Seed: 41, Bytes: 4 << 20})
	largs, lfile := metricsArgs(t)
	leader := startServe(t, "dir:"+leaderDB, largs...)
	nodeDir := t.TempDir()
	fargs, ffile := metricsArgs(t)
	sc := startFollowerSidecarArgs(t, nodeDir, nil, fargs...)

	ctx := t.Context()
	dest := filepath.Join(nodeDir, "db")
	st, err := sc.local.Prepare(ctx, connect.NewRequest(&snapsyncv1.PrepareRequest{SourceUrl: leader.URL, Dest: dest}))
	if err != nil {
		t.Fatal(err)
	}
	var prepared *snapsyncv1.PrepareResponse
	for st.Receive() {
		if st.Msg().GetPrepared() != nil {
			prepared = st.Msg()
		}
	}
	if err := st.Err(); err != nil || prepared == nil {
		t.Fatalf("Prepare: %v", err)
	}
	st.Close()
	id := prepared.GetPrepared().GetSnapshotId()
	if _, err := sc.local.Commit(ctx, connect.NewRequest(&snapsyncv1.CommitRequest{Dest: dest, SnapshotId: id})); err != nil {
		t.Fatal(err)
	}
	fetched := float64(prepared.GetProgress().GetBytesFetched())
	if fetched <= 0 {
		t.Fatalf("nothing fetched: %v", prepared)
	}

	lm, fm := scrape(t, lfile), scrape(t, ffile)
	for _, tc := range []struct {
		mfs           map[string]*dto.MetricFamily
		name, outcome string
		want          float64
	}{
		{lm, "snapsync_server_create_snapshot_total", "ok", 1},
		{lm, "snapsync_server_checkpoint_duration_seconds", "", 1},
		{lm, "snapsync_server_active_streams", "", 0},
		{lm, "snapsync_server_sent_bytes_total", "", fetched}, // one attempt, no retries
		{fm, "snapsync_installs_total", "ok", 1},
		{fm, "snapsync_install_duration_seconds", "", 1},
		{fm, "snapsync_commits_total", "ok", 1},
		{fm, "snapsync_client_received_bytes_total", "", fetched},
		{fm, "snapsync_client_reused_bytes_total", "", float64(prepared.GetProgress().GetBytesReused())},
		{fm, "snapsync_client_chunks_refused_total", "", 0},
	} {
		if got := value(tc.mfs, tc.name, tc.outcome); got != tc.want {
			t.Errorf("%s{outcome=%q} = %v, want %v", tc.name, tc.outcome, got, tc.want)
		}
	}
	if got := value(lm, "snapsync_server_read_bytes_total", ""); got < float64(prepared.GetProgress().GetBytesTotal()) {
		t.Errorf("server read %v bytes of a %v-byte tree fetched whole", got, prepared.GetProgress().GetBytesTotal())
	}
	if got := value(fm, "snapsync_client_chunks_verified_total", ""); got <= 0 {
		t.Errorf("chunks verified: %v", got)
	}
	if got := value(fm, "snapsync_staging_free_bytes", ""); got <= 0 {
		t.Errorf("staging free bytes: %v", got)
	}
	for _, name := range []string{"go_goroutines", "process_resident_memory_bytes"} {
		if value(lm, name, "") <= 0 || value(fm, name, "") <= 0 {
			t.Errorf("runtime metric %s missing", name)
		}
	}
}
