// Package client is the follower side of snapsync: it asks a serving sidecar
// for a checkpoint, plans what it can reuse from the local database and any
// earlier staging, fetches the rest over parallel verified chunk streams, and
// stages the tree beside the destination. Nothing unverified is written into
// the staged tree, and the destination is replaced only by package swap's
// atomic, journaled replace, so it is at every instant the old tree or the
// new one, whole. An interrupted install resumes from what is staged.
//
// # Flow
//
// Install is Recover, then Prepare (fetch, verify, stage; the destination is
// untouched and the node keeps serving), then Commit (the atomic swap). A node
// that drives a two-phase install calls Prepare and Commit itself, and Abort
// to give the staging area back.
//
// # Several sources
//
// InstallFrom and PrepareFrom take several sidecars' URLs. They probe them
// all at once (SnapshotService.Probe: no lease, no checkpoint, each bounded by
// Config.StallTimeout and at most 10 s), fetch from the one with the highest
// index reaching minIndex (ties go to the earlier URL), and when that one
// fails for a reason of its own (unreachable, stalled, behind, a protocol
// violation) go on from the next. The next one's checkpoint may have another
// snapshot ID: the staged data then becomes prev/ and is reused by content,
// so a switch fetches again at most the chunks that were in flight.
//
// # Fetch alone
//
// Open leases a snapshot and fetches its manifest as an install does, with no
// destination; Session.Fetch then streams a chosen set of chunks, verified,
// through the same fetcher (parallel streams, retries with backoff, the stall
// limit) into a Sink of the caller's. The staged files of an install are one
// sink, a backup's repository (package repo/backup) another.
//
// # Staging area
//
// Config.StagingDir (by default ".snapsync-NAME" beside the destination, on the
// same filesystem) holds:
//
//	stage/         the tree that becomes the destination
//	prev/          verified data of an earlier, different snapshot, kept as a
//	               source of reusable chunks until this install ends
//	state.json     snapshot ID, phase ("fetching", "staged", "swapping") and the
//	               identities of the trees, written tmp -> fsync -> rename
//	manifest.bin   the manifest's canonical encoding, checked against the ID
//	               whenever it is read back
//	swap.journal   package swap's journal while a swap is in progress
//	lock           an flock held by the one install working on the area
//	digests        the finished stage/'s file identities and chunks; after the
//	               swap it becomes StagingDir+".digests", the follower digest
//	               cache the next install plans with (see digestcache.go)
//
// # Fault points
//
// Config.Hook is called at these stable points (an error it returns aborts the
// install there; crash tests kill the process inside it). It may be called
// from several goroutines at once.
//
//	manifest-fetched   Prepare: the verified manifest and state.json are
//	                   durable; nothing is staged yet.
//	chunk-written      Prepare, once per verified chunk written into stage/
//	                   (not yet fsynced).
//	file-synced        Prepare, once per staged file fsynced and given its mode.
//	staged             Prepare: the whole tree is fsynced and state.json says
//	                   "staged"; the destination is untouched.
//	before-swap, mid-swap, after-swap, before-cleanup, after-cleanup
//	                   Commit: package swap's points around the replace (see
//	                   its documentation); before-recover and
//	                   before-recover-cleanup when a swap is recovered.
//	old-removed        Commit: the old tree is removed (or kept at
//	                   Dest+".old-UNIX"); the staging area still exists.
//	done               Commit: the staging area is removed.
package client
