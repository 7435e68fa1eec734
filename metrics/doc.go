// Package metrics holds snapsync's Prometheus collectors: what the server
// sends, what installs receive and reuse, installs, commits and aborts by
// outcome, and gauges read at scrape time (streams, leases, checkpoints,
// free space on the staging filesystems). New registers them on a
// Registerer the caller owns (no global registry); a nil *Metrics records
// nothing, so the server, client and sidecar run without metrics.
package metrics
