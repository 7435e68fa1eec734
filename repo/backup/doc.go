// Package backup copies a snapshot from a serving sidecar into a repository:
// a fetch whose destination is a repository. It fetches through package
// client exactly as an install does (a lease, the manifest verified against
// the snapshot ID, every chunk verified, dropped streams retried, a silent
// peer cut by the stall limit) and differs only in where the verified
// chunks go: each distinct chunk the repository lacks is uploaded, then the
// manifest is stored and the snapshot committed. A backup that is killed
// leaves the repository valid (nothing listed that is not whole) and the
// next run uploads only what is still missing.
package backup
