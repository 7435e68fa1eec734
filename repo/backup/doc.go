// Package backup copies a snapshot from a serving sidecar into a repository:
// a fetch whose destination is a repository. It leases a checkpoint, verifies
// its manifest against the snapshot ID and every chunk against its digest,
// uploads only the distinct chunks the repository lacks, then stores the
// manifest and commits. A backup that is killed leaves the repository valid
// (nothing listed that is not whole) and the next run uploads only what is
// still missing.
package backup
