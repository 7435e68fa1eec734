package metrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

func TestWatchConns(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m, err := New(reg, false)
	if err != nil {
		t.Fatal(err)
	}
	st := ConnState{Max: 2048, Reserve: 512, Authenticated: 3, Unauthenticated: 1536,
		Refused: map[string]int64{"peer": 4464, "metrics": 0}}
	if err := m.WatchConns(func() ConnState { return st }); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		for _, mt := range mf.GetMetric() {
			key := mf.GetName()
			for _, lp := range mt.GetLabel() {
				key += "{" + lp.GetName() + "=" + lp.GetValue() + "}"
			}
			got[key] = value(mt)
		}
	}
	for key, want := range map[string]float64{
		"snapsync_connections{state=authenticated}":            3,
		"snapsync_connections{state=unauthenticated}":          1536,
		"snapsync_connections_max":                             2048,
		"snapsync_connections_reserved":                        512,
		"snapsync_connections_refused_total{listener=peer}":    4464,
		"snapsync_connections_refused_total{listener=metrics}": 0,
	} {
		if v, ok := got[key]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", key, v, ok, want)
		}
	}
	var none *Metrics
	if err := none.WatchConns(func() ConnState { return st }); err != nil {
		t.Fatal(err)
	}
}

func value(m *dto.Metric) float64 { return m.GetCounter().GetValue() + m.GetGauge().GetValue() }
