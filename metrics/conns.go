package metrics

import "github.com/prometheus/client_golang/prometheus"

// ConnState is what the process's connection cap holds at one moment.
type ConnState struct {
	Max, Reserve                   int
	Authenticated, Unauthenticated int
	// Refused counts, by listener (peer, local, metrics), the connections
	// the cap closed since the start.
	Refused map[string]int64
}

var (
	connsDesc = prometheus.NewDesc("snapsync_connections",
		"Connections open on the sidecar's listeners, by state: authenticated (a call on it passed authentication) or unauthenticated.",
		[]string{"state"}, nil)
	connsMaxDesc = prometheus.NewDesc("snapsync_connections_max",
		"The cap on open connections (--max-conns).", nil, nil)
	connsReservedDesc = prometheus.NewDesc("snapsync_connections_reserved",
		"Connections of the cap that only authenticated ones may hold.", nil, nil)
	connsRefusedDesc = prometheus.NewDesc("snapsync_connections_refused_total",
		"Connections the cap closed, by listener: the oldest unauthenticated one, to admit a new one, or a new one when authenticated connections hold every slot.",
		[]string{"listener"}, nil)
)

// connCollector reads the connection cap's state at scrape time.
type connCollector func() ConnState

func (connCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- connsDesc
	ch <- connsMaxDesc
	ch <- connsReservedDesc
	ch <- connsRefusedDesc
}

func (f connCollector) Collect(ch chan<- prometheus.Metric) {
	st := f()
	ch <- prometheus.MustNewConstMetric(connsDesc, prometheus.GaugeValue, float64(st.Authenticated), "authenticated")
	ch <- prometheus.MustNewConstMetric(connsDesc, prometheus.GaugeValue, float64(st.Unauthenticated), "unauthenticated")
	ch <- prometheus.MustNewConstMetric(connsMaxDesc, prometheus.GaugeValue, float64(st.Max))
	ch <- prometheus.MustNewConstMetric(connsReservedDesc, prometheus.GaugeValue, float64(st.Reserve))
	for listener, n := range st.Refused {
		ch <- prometheus.MustNewConstMetric(connsRefusedDesc, prometheus.CounterValue, float64(n), listener)
	}
}

// WatchConns registers the gauges and counter of the connection cap, read
// at every scrape. One cap per Metrics: a second call fails.
func (m *Metrics) WatchConns(state func() ConnState) error {
	if m == nil {
		return nil
	}
	return m.reg.Register(connCollector(state))
}
