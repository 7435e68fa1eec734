// Package serve serves one snapshot of a repository as a SnapshotService, so
// that a restore is an install whose source is a repository: the client
// fetches, verifies, stages and swaps exactly as it does from a sidecar.
// Every chunk it sends was read through repo.GetChunk and so verified; a
// damaged chunk ends the stream with DATA_LOSS naming it.
// A repository does not change under a committed snapshot except by Prune:
// the caller holds a repo.Lock (the shared backup lock) while it serves.
package serve
