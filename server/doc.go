// Package server is the leader-side sidecar: it takes consistent checkpoints
// from a source.Source, describes each one by a manifest whose digest is its
// snapshot ID, and serves manifests and chunks over the Connect
// SnapshotService.
//
// Checkpoints are kept in a catalog and held by leases persisted in a work
// directory, so a restarted sidecar keeps serving them, and are removed when
// no lease holds them (lease time comes from Config.Clock); chunk digests are
// cached by inode so unchanged SSTs are hashed once.
//
// Streams are capped, optionally rate limited, and compressed with zstd only
// where compression pays for the stream at hand.
//
// The SnapshotService itself is one, over a Store (store.go): it checks
// requests, pages manifests, describes snapshots and maps errors alike for
// the catalog (live.go) and for any other store, such as a backup
// repository (repo/serve, served by StoreHandler).
package server
