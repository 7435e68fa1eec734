package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/snapsync/snapsync/internal/durable"
)

// ServerState is what a server holds at one moment.
type ServerState struct {
	ActiveStreams int
	Leases        int
	Checkpoints   int
	// NewestAge is the age of the newest checkpoint held; meaningless when
	// Checkpoints is 0.
	NewestAge time.Duration
}

var (
	activeStreamsDesc = prometheus.NewDesc("snapsync_server_active_streams", "FetchChunks and FetchByDigest streams being served.", nil, nil)
	leasesDesc        = prometheus.NewDesc("snapsync_server_leases", "Leases held on checkpoints.", nil, nil)
	checkpointsDesc   = prometheus.NewDesc("snapsync_server_checkpoints", "Checkpoints held.", nil, nil)
	newestAgeDesc     = prometheus.NewDesc("snapsync_server_newest_checkpoint_age_seconds",
		"Age of the newest checkpoint held (absent when none is held).", nil, nil)
	freeBytesDesc = prometheus.NewDesc("snapsync_staging_free_bytes",
		"Bytes free to this process on the filesystem of an allowed install root (where staging areas live).", []string{"root"}, nil)
)

// serverCollector reads a server's state at scrape time.
type serverCollector func() ServerState

func (serverCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- activeStreamsDesc
	ch <- leasesDesc
	ch <- checkpointsDesc
	ch <- newestAgeDesc
}

func (f serverCollector) Collect(ch chan<- prometheus.Metric) {
	st := f()
	ch <- prometheus.MustNewConstMetric(activeStreamsDesc, prometheus.GaugeValue, float64(st.ActiveStreams))
	ch <- prometheus.MustNewConstMetric(leasesDesc, prometheus.GaugeValue, float64(st.Leases))
	ch <- prometheus.MustNewConstMetric(checkpointsDesc, prometheus.GaugeValue, float64(st.Checkpoints))
	if st.Checkpoints > 0 {
		ch <- prometheus.MustNewConstMetric(newestAgeDesc, prometheus.GaugeValue, st.NewestAge.Seconds())
	}
}

// WatchServer registers gauges that read state at every scrape. One server
// per Metrics: a second call fails.
func (m *Metrics) WatchServer(state func() ServerState) error {
	if m == nil {
		return nil
	}
	return m.reg.Register(serverCollector(state))
}

// freeCollector reads the free space of roots at scrape time.
type freeCollector []string

func (freeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- freeBytesDesc }

func (roots freeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, r := range roots {
		free, _, err := durable.Space(r)
		if err != nil {
			ch <- prometheus.NewInvalidMetric(freeBytesDesc, err)
			continue
		}
		ch <- prometheus.MustNewConstMetric(freeBytesDesc, prometheus.GaugeValue, float64(free), r)
	}
}

// WatchFreeSpace registers a gauge of the free bytes on the filesystem of
// each root, read at every scrape.
func (m *Metrics) WatchFreeSpace(roots []string) error {
	if m == nil || len(roots) == 0 {
		return nil
	}
	return m.reg.Register(freeCollector(roots))
}
