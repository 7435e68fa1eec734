// Package serve is a backup repository as a server.Store: one committed
// snapshot of it served by the same SnapshotService as a sidecar's
// checkpoints (server.StoreHandler), so that a restore is an install whose
// source is a repository: the client fetches, verifies, stages and swaps
// exactly as it does from a sidecar. Every chunk it sends was read through
// repo.GetChunk and so verified; a damaged chunk ends the stream with
// DATA_LOSS naming it. A repository does not change under a committed
// snapshot except by Prune: the caller holds a repo.Lock (the shared backup
// lock) while it serves.
package serve
