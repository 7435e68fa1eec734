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
// A manifest is never held whole: the build walks the tree into columns
// (walk.go), streams the canonical encoding to the work directory, and
// keeps a layout (layout.go: per file a path, the stat it was built from and
// where its chunk records sit in the encoding, about 80 bytes) by which
// GetManifest streams the file and FetchChunks reads a chunk's digest from
// it. A million files or 4 Mi chunks build and serve in well under 256 MiB
// (TestScaleBuild, TestScaleServe; docs/DESIGN.md invariant 5).
//
// Streams are capped, optionally rate limited, and compressed with zstd only
// where compression pays for the stream at hand.
//
// The SnapshotService itself is one, over a Store (store.go): it checks
// requests, pages manifests, describes snapshots and maps errors alike for
// the catalog (live.go) and for any other store, such as a backup
// repository (repo/serve, served by StoreHandler).
package server
