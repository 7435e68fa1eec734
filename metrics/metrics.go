package metrics

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// OutcomeOK is the outcome label of a call that succeeded; a failed one is
// labelled with its reason (package reason).
const OutcomeOK = "ok"

// Metrics is snapsync's set of collectors. Its methods may be called on a
// nil *Metrics, which records nothing.
type Metrics struct {
	reg prometheus.Registerer

	sentBytes, readBytes, compressedAway prometheus.Counter
	splicedBytes                         prometheus.Counter
	chunksSent                           *prometheus.CounterVec
	createSnapshot                       *prometheus.CounterVec
	checkpointSeconds                    prometheus.Histogram
	rateLimitWaits, rateLimitSeconds     prometheus.Counter
	leaseExpiries                        prometheus.Counter

	byDigestChunks                   *prometheus.CounterVec
	byDigestBytes, byDigestWireBytes prometheus.Counter
	hasChunksCalls                   prometheus.Counter
	hasChunksDigests                 *prometheus.CounterVec

	receivedBytes, reusedBytes    prometheus.Counter
	sourceBytes                   prometheus.Counter
	chunksVerified, chunksRefused prometheus.Counter

	installs, commits, aborts *prometheus.CounterVec
	installSeconds            prometheus.Histogram
}

// durationBuckets span a small checkpoint (10 ms) to a large install (about
// 3 hours), in steps of about 3x that print as round numbers.
var durationBuckets = []float64{0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300, 1000, 3000, 10000}

// New creates the collectors and registers them on reg, with the Go runtime
// and process collectors when withRuntime is set.
func New(reg prometheus.Registerer, withRuntime bool) (*Metrics, error) {
	m := &Metrics{reg: reg}
	counter := func(name, help string) prometheus.Counter {
		return prometheus.NewCounter(prometheus.CounterOpts{Name: name, Help: help})
	}
	vec := func(name, help, label string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, []string{label})
	}
	hist := func(name, help string) prometheus.Histogram {
		return prometheus.NewHistogram(prometheus.HistogramOpts{Name: name, Help: help, Buckets: durationBuckets})
	}
	m.sentBytes = counter("snapsync_server_sent_bytes_total", "Chunk bytes the server sent on the wire (compressed where it compressed).")
	m.readBytes = counter("snapsync_server_read_bytes_total", "Chunk bytes the server read from checkpoint files.")
	m.compressedAway = counter("snapsync_server_compressed_away_bytes_total", "Bytes zstd saved on the wire: raw minus compressed size of the chunks sent compressed.")
	m.splicedBytes = counter("snapsync_server_spliced_bytes_total", "Of the chunk bytes the server sent, those it sent from the checkpoint file by sendfile (plaintext HTTP/1.1 streams).")
	m.chunksSent = vec("snapsync_server_chunks_sent_total", "Chunks the server sent, by encoding (raw or zstd).", "encoding")
	m.createSnapshot = vec("snapsync_server_create_snapshot_total", "CreateSnapshot calls, by outcome (ok or the reason).", "outcome")
	m.checkpointSeconds = hist("snapsync_server_checkpoint_duration_seconds", "Time to make a checkpoint and build its manifest.")
	m.rateLimitWaits = counter("snapsync_server_rate_limit_waits_total", "Chunks the byte rate limit delayed.")
	m.rateLimitSeconds = counter("snapsync_server_rate_limit_wait_seconds_total", "Time chunks spent waiting for the byte rate limit.")
	m.leaseExpiries = counter("snapsync_server_lease_expiries_total", "Leases that expired without being released.")
	m.byDigestChunks = vec("snapsync_server_by_digest_chunks_sent_total", "Chunks FetchByDigest sent, by encoding (raw or zstd).", "encoding")
	m.byDigestBytes = counter("snapsync_server_by_digest_read_bytes_total", "Chunk bytes FetchByDigest read and verified.")
	m.byDigestWireBytes = counter("snapsync_server_by_digest_sent_bytes_total", "Chunk bytes FetchByDigest sent on the wire (compressed where it compressed).")
	m.hasChunksCalls = counter("snapsync_server_has_chunks_calls_total", "HasChunks calls answered.")
	m.hasChunksDigests = vec("snapsync_server_has_chunks_digests_total", "Digests HasChunks was asked about, by result (have or missing).", "result")
	m.receivedBytes = counter("snapsync_client_received_bytes_total", "Chunk bytes installs received on the wire.")
	m.sourceBytes = counter("snapsync_client_chunk_source_bytes_total", "Of the chunk bytes installs received, those chunk sources sent (not the install's source).")
	m.reusedBytes = counter("snapsync_client_reused_bytes_total", "Bytes installs found locally (hard-linked or copied) instead of fetching.")
	m.chunksVerified = counter("snapsync_client_chunks_verified_total", "Fetched chunks that passed verification.")
	m.chunksRefused = counter("snapsync_client_chunks_refused_total", "Fetched chunks refused by verification (digest, length or decoding).")
	m.installs = vec("snapsync_installs_total", "Prepares run by the local install API, by outcome (ok or the reason).", "outcome")
	m.commits = vec("snapsync_commits_total", "Commits of the local install API, by outcome (ok or the reason).", "outcome")
	m.aborts = vec("snapsync_aborts_total", "Aborts of the local install API, by outcome (ok or the reason).", "outcome")
	m.installSeconds = hist("snapsync_install_duration_seconds", "Duration of the Prepares that succeeded (fetch, verify, stage).")
	cs := []prometheus.Collector{
		m.sentBytes, m.readBytes, m.compressedAway, m.splicedBytes, m.chunksSent, m.createSnapshot, m.checkpointSeconds,
		m.rateLimitWaits, m.rateLimitSeconds, m.leaseExpiries,
		m.byDigestChunks, m.byDigestBytes, m.byDigestWireBytes, m.hasChunksCalls, m.hasChunksDigests,
		m.receivedBytes, m.sourceBytes, m.reusedBytes, m.chunksVerified, m.chunksRefused,
		m.installs, m.commits, m.aborts, m.installSeconds,
	}
	if withRuntime {
		cs = append(cs, prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	}
	if err := register(reg, cs...); err != nil {
		return nil, err
	}
	return m, nil
}

func register(reg prometheus.Registerer, cs ...prometheus.Collector) error {
	var errs []error
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ChunkSent counts a chunk of raw bytes sent as wire bytes, zstd-compressed
// or not.
func (m *Metrics) ChunkSent(raw, wire int, zstd bool) {
	if m == nil {
		return
	}
	m.readBytes.Add(float64(raw))
	m.sentBytes.Add(float64(wire))
	enc := "raw"
	if zstd {
		enc = "zstd"
		m.compressedAway.Add(float64(raw - wire))
	}
	m.chunksSent.WithLabelValues(enc).Inc()
}

// Spliced counts chunk bytes sent from their file by sendfile.
func (m *Metrics) Spliced(n int) {
	if m == nil || n == 0 {
		return
	}
	m.splicedBytes.Add(float64(n))
}

// ChunkSentByDigest counts a chunk FetchByDigest sent: raw bytes read and
// verified, wire bytes sent, zstd-compressed or not.
func (m *Metrics) ChunkSentByDigest(raw, wire int, zstd bool) {
	if m == nil {
		return
	}
	m.byDigestBytes.Add(float64(raw))
	m.byDigestWireBytes.Add(float64(wire))
	enc := "raw"
	if zstd {
		enc = "zstd"
	}
	m.byDigestChunks.WithLabelValues(enc).Inc()
}

// HasChunks counts a HasChunks call asking about asked digests, of which
// the server had have.
func (m *Metrics) HasChunks(asked, have int) {
	if m == nil {
		return
	}
	m.hasChunksCalls.Inc()
	m.hasChunksDigests.WithLabelValues("have").Add(float64(have))
	m.hasChunksDigests.WithLabelValues("missing").Add(float64(asked - have))
}

// CreateSnapshot counts a CreateSnapshot call by its outcome.
func (m *Metrics) CreateSnapshot(outcome string) {
	if m != nil {
		m.createSnapshot.WithLabelValues(outcome).Inc()
	}
}

// Checkpoint observes the time a checkpoint and its manifest took.
func (m *Metrics) Checkpoint(d time.Duration) {
	if m != nil {
		m.checkpointSeconds.Observe(d.Seconds())
	}
}

// RateLimitWait counts a wait of d for the rate limit; zero is no wait.
func (m *Metrics) RateLimitWait(d time.Duration) {
	if m == nil || d <= 0 {
		return
	}
	m.rateLimitWaits.Inc()
	m.rateLimitSeconds.Add(d.Seconds())
}

// LeasesExpired counts n leases that expired.
func (m *Metrics) LeasesExpired(n int) {
	if m != nil && n > 0 {
		m.leaseExpiries.Add(float64(n))
	}
}

// Received counts n chunk bytes an install received on the wire.
func (m *Metrics) Received(n int64) {
	if m != nil {
		m.receivedBytes.Add(float64(n))
	}
}

// FromSource counts n of the chunk bytes an install received (Received) as
// sent by a chunk source.
func (m *Metrics) FromSource(n int64) {
	if m != nil {
		m.sourceBytes.Add(float64(n))
	}
}

// Reused counts n bytes an install found locally.
func (m *Metrics) Reused(n int64) {
	if m != nil && n > 0 {
		m.reusedBytes.Add(float64(n))
	}
}

// ChunkChecked counts a fetched chunk that passed verification (ok) or was
// refused.
func (m *Metrics) ChunkChecked(ok bool) {
	switch {
	case m == nil:
	case ok:
		m.chunksVerified.Inc()
	default:
		m.chunksRefused.Inc()
	}
}

// Install counts a Prepare by its outcome and, when it succeeded, observes
// its duration d.
func (m *Metrics) Install(outcome string, d time.Duration) {
	if m == nil {
		return
	}
	m.installs.WithLabelValues(outcome).Inc()
	if outcome == OutcomeOK {
		m.installSeconds.Observe(d.Seconds())
	}
}

// Commit counts a Commit by its outcome.
func (m *Metrics) Commit(outcome string) {
	if m != nil {
		m.commits.WithLabelValues(outcome).Inc()
	}
}

// Abort counts an Abort by its outcome.
func (m *Metrics) Abort(outcome string) {
	if m != nil {
		m.aborts.WithLabelValues(outcome).Inc()
	}
}
