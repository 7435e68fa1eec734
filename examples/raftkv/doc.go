// Package raftkv is a replicated key-value store on hashicorp/raft with Pebble
// as its state machine, built to show how a Raft node installs snapshots
// through snapsync. Its Raft snapshot is only a pointer — the leader sidecar's
// URL and the term and index its registered checkpoint reflects — the pattern
// Ratis calls "notify install snapshot".
// A follower that restores such a pointer asks its own sidecar to Prepare the
// checkpoint from the leader's sidecar, closes its DB, has the sidecar Commit
// the atomic swap and reopens the DB, which records the Raft index it reflects.
package raftkv
