package metrics

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// series returns every series reg gathers by name{label="value",…}: a
// counter's or gauge's value, a histogram's _count and _sum.
func series(tb testing.TB, reg prometheus.Gatherer) map[string]float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			name := mf.GetName() + labels(m)
			switch {
			case m.GetCounter() != nil:
				out[name] = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				out[name] = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				out[mf.GetName()+"_count"+labels(m)] = float64(m.GetHistogram().GetSampleCount())
				out[mf.GetName()+"_sum"+labels(m)] = m.GetHistogram().GetSampleSum()
			}
		}
	}
	return out
}

func labels(m *dto.Metric) string {
	if len(m.GetLabel()) == 0 {
		return ""
	}
	var parts []string
	for _, l := range m.GetLabel() {
		parts = append(parts, l.GetName()+`="`+l.GetValue()+`"`)
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// moved returns the series that differ from before to after, by how much.
func moved(before, after map[string]float64) map[string]float64 {
	d := map[string]float64{}
	for k, v := range after {
		if v != before[k] {
			d[k] = v - before[k]
		}
	}
	return d
}

// events is every method that records an event, each with the series it
// must move and by how much: nothing else may move.
var events = []struct {
	name string
	call func(m *Metrics)
	want map[string]float64
}{
	{"ChunkSent zstd", func(m *Metrics) { m.ChunkSent(100, 40, true) }, map[string]float64{
		"snapsync_server_read_bytes_total": 100, "snapsync_server_sent_bytes_total": 40,
		"snapsync_server_compressed_away_bytes_total": 60, `snapsync_server_chunks_sent_total{encoding="zstd"}`: 1,
	}},
	{"ChunkSent raw", func(m *Metrics) { m.ChunkSent(100, 100, false) }, map[string]float64{
		"snapsync_server_read_bytes_total": 100, "snapsync_server_sent_bytes_total": 100,
		`snapsync_server_chunks_sent_total{encoding="raw"}`: 1,
	}},
	{"Spliced", func(m *Metrics) { m.Spliced(300) }, map[string]float64{
		"snapsync_server_spliced_bytes_total": 300,
	}},
	{"Spliced none", func(m *Metrics) { m.Spliced(0) }, map[string]float64{}},
	{"CreateSnapshot ok", func(m *Metrics) { m.CreateSnapshot(OutcomeOK) }, map[string]float64{
		`snapsync_server_create_snapshot_total{outcome="ok"}`: 1,
	}},
	{"CreateSnapshot failed", func(m *Metrics) { m.CreateSnapshot("NO_SPACE") }, map[string]float64{
		`snapsync_server_create_snapshot_total{outcome="NO_SPACE"}`: 1,
	}},
	{"Checkpoint", func(m *Metrics) { m.Checkpoint(2 * time.Second) }, map[string]float64{
		"snapsync_server_checkpoint_duration_seconds_count": 1, "snapsync_server_checkpoint_duration_seconds_sum": 2,
	}},
	{"RateLimitWait", func(m *Metrics) { m.RateLimitWait(1500 * time.Millisecond) }, map[string]float64{
		"snapsync_server_rate_limit_waits_total": 1, "snapsync_server_rate_limit_wait_seconds_total": 1.5,
	}},
	{"RateLimitWait none", func(m *Metrics) { m.RateLimitWait(0) }, map[string]float64{}},
	{"LeasesExpired", func(m *Metrics) { m.LeasesExpired(3) }, map[string]float64{
		"snapsync_server_lease_expiries_total": 3,
	}},
	{"LeasesExpired none", func(m *Metrics) { m.LeasesExpired(0) }, map[string]float64{}},
	{"Received", func(m *Metrics) { m.Received(1000) }, map[string]float64{
		"snapsync_client_received_bytes_total": 1000,
	}},
	{"FromSource", func(m *Metrics) { m.FromSource(300) }, map[string]float64{
		"snapsync_client_chunk_source_bytes_total": 300,
	}},
	{"Reused", func(m *Metrics) { m.Reused(700) }, map[string]float64{
		"snapsync_client_reused_bytes_total": 700,
	}},
	{"Reused none", func(m *Metrics) { m.Reused(0) }, map[string]float64{}},
	{"ChunkChecked ok", func(m *Metrics) { m.ChunkChecked(true) }, map[string]float64{
		"snapsync_client_chunks_verified_total": 1,
	}},
	{"ChunkChecked refused", func(m *Metrics) { m.ChunkChecked(false) }, map[string]float64{
		"snapsync_client_chunks_refused_total": 1,
	}},
	{"Install ok", func(m *Metrics) { m.Install(OutcomeOK, 3*time.Second) }, map[string]float64{
		`snapsync_installs_total{outcome="ok"}`:   1,
		"snapsync_install_duration_seconds_count": 1, "snapsync_install_duration_seconds_sum": 3,
	}},
	{"Install failed", func(m *Metrics) { m.Install("NO_SPACE", 3*time.Second) }, map[string]float64{
		`snapsync_installs_total{outcome="NO_SPACE"}`: 1,
	}},
	{"Commit", func(m *Metrics) { m.Commit(OutcomeOK) }, map[string]float64{
		`snapsync_commits_total{outcome="ok"}`: 1,
	}},
	{"Abort", func(m *Metrics) { m.Abort("NOT_STAGED") }, map[string]float64{
		`snapsync_aborts_total{outcome="NOT_STAGED"}`: 1,
	}},
}

// TestEvents: each event moves its series by its amount, and no other;
// twice, so a counter is seen to add, not to set.
func TestEvents(t *testing.T) {
	t.Parallel()
	for _, tc := range events {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			reg := prometheus.NewPedanticRegistry()
			m, err := New(reg, false)
			if err != nil {
				t.Fatal(err)
			}
			for range 2 {
				before := series(t, reg)
				tc.call(m)
				if got := moved(before, series(t, reg)); !maps.Equal(got, tc.want) {
					t.Fatalf("moved %v; want %v", got, tc.want)
				}
			}
		})
	}
}

// TestNil: a nil *Metrics takes every call and records nothing.
func TestNil(t *testing.T) {
	t.Parallel()
	var m *Metrics
	for _, tc := range events {
		tc.call(m)
	}
	if err := m.WatchServer(func() ServerState { return ServerState{} }); err != nil {
		t.Fatal(err)
	}
	if err := m.WatchFreeSpace([]string{t.TempDir()}); err != nil {
		t.Fatal(err)
	}
}

// TestWatchServer: the server gauges read the state at each scrape; the
// newest checkpoint's age is absent when none is held; a second server is
// refused.
func TestWatchServer(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg, false)
	if err != nil {
		t.Fatal(err)
	}
	st := ServerState{ActiveStreams: 2, Leases: 3}
	if err := m.WatchServer(func() ServerState { return st }); err != nil {
		t.Fatal(err)
	}
	gauges := func() map[string]float64 {
		all := series(t, reg)
		maps.DeleteFunc(all, func(k string, _ float64) bool {
			return !strings.HasPrefix(k, "snapsync_server_") || strings.Contains(k, "_total") || strings.Contains(k, "_duration_")
		})
		return all
	}
	want := map[string]float64{"snapsync_server_active_streams": 2, "snapsync_server_leases": 3, "snapsync_server_checkpoints": 0}
	if got := gauges(); !maps.Equal(got, want) {
		t.Fatalf("gauges %v; want %v", got, want)
	}
	st = ServerState{ActiveStreams: 1, Leases: 0, Checkpoints: 4, NewestAge: 90 * time.Second}
	want = map[string]float64{"snapsync_server_active_streams": 1, "snapsync_server_leases": 0, "snapsync_server_checkpoints": 4, "snapsync_server_newest_checkpoint_age_seconds": 90}
	if got := gauges(); !maps.Equal(got, want) {
		t.Fatalf("gauges %v; want %v", got, want)
	}
	if err := m.WatchServer(func() ServerState { return st }); err == nil {
		t.Fatal("a second WatchServer succeeded")
	}
}

// TestWatchFreeSpace: one gauge per root, labelled with it, read at the
// scrape.
func TestWatchFreeSpace(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewPedanticRegistry()
	m, err := New(reg, false)
	if err != nil {
		t.Fatal(err)
	}
	roots := []string{t.TempDir(), t.TempDir()}
	if err := m.WatchFreeSpace(roots); err != nil {
		t.Fatal(err)
	}
	all := series(t, reg)
	for _, r := range roots {
		if v, ok := all[`snapsync_staging_free_bytes{root="`+r+`"}`]; !ok || v <= 0 {
			t.Errorf("free bytes of %s: %v, %v; want a positive gauge", r, v, ok)
		}
	}
}

// TestNewTwice: a registry takes one set of collectors; New on it again
// fails rather than counting twice.
func TestNewTwice(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	if _, err := New(reg, true); err != nil {
		t.Fatal(err)
	}
	if _, err := New(reg, true); err == nil {
		t.Fatal("New on the same registry succeeded twice")
	}
}
