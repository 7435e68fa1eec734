package client

import (
	"time"

	"github.com/snapsync/snapsync/verify"
)

// Result describes a finished install.
type Result struct {
	SnapshotID verify.Digest
	Term       uint64
	Index      uint64
	// Meta is the manifest's: Term and Index again, the engine, the
	// creation time and the labels.
	Meta verify.Meta
	// ChunkSize is the manifest's chunk size.
	ChunkSize uint32
	// ManifestSize is the length of the manifest's canonical encoding.
	ManifestSize int64
	// Files is the number of files of the installed tree.
	Files int
	// BytesTotal is the tree's size, each hard-link group counted once.
	BytesTotal int64
	// BytesFetched is what the chunks took on the wire (compressed where the
	// server compressed) in the attempt that completed the staging.
	BytesFetched int64
	// BytesReused is what was found locally: in the current database, in an
	// earlier staging, or already staged by an interrupted attempt.
	BytesReused int64
	// LocalBytesRead is what planning read and hashed of local files in
	// the attempt that completed the staging: the follower digest cache and
	// the prefilter (docs/DESIGN.md, How an install runs) spare the rest;
	// with Config.VerifyLocal it is every local byte.
	LocalBytesRead int64
	Duration       time.Duration
	// Source is the URL the snapshot was fetched from (empty when an earlier
	// call staged it).
	Source string
	// SourceBytes is what each chunk source (Config.ChunkSources, by Name)
	// sent of BytesFetched in the attempt that completed the staging; the
	// rest came from Source. Nil without chunk sources.
	SourceBytes map[string]int64
	// Failovers are the sources given up on before Source, in order.
	Failovers []Failover
	// RollbackAvailable is set by a Commit with Config.KeepOld that kept
	// what it replaced: Rollback and Finalize apply.
	RollbackAvailable bool
}

// Prepared describes a snapshot staged by Prepare, ready for Commit; its
// Duration is Prepare's.
type Prepared struct {
	Result
	// AlreadyStaged is true when the snapshot was staged by an earlier call
	// and this one did nothing.
	AlreadyStaged bool
}

// Progress is an install's advance, passed to Config.Progress.
type Progress struct {
	// Phase is what the install is doing: one of the Phase constants.
	Phase        string
	Files        int
	BytesTotal   int64
	BytesDone    int64 // verified and in place: reused or fetched
	BytesFetched int64 // on the wire
	BytesReused  int64
	// BytesFromSources is what the chunk sources (Config.ChunkSources) sent
	// of BytesFetched.
	BytesFromSources int64
}

// The phases of Progress, in order.
const (
	// PhaseConnecting: taking the staging area's lock, settling what an
	// earlier run left, connecting to the server.
	PhaseConnecting = "connect"
	// PhaseWaitingForCheckpoint: the CreateSnapshot call is out; the server
	// finds or makes a checkpoint.
	PhaseWaitingForCheckpoint = "checkpoint"
	// PhaseFetchingManifest: fetching and verifying the manifest.
	PhaseFetchingManifest = "manifest"
	// PhasePlanning: hashing local data to plan what to reuse, checking free
	// space.
	PhasePlanning = "plan"
	// PhaseFetching: fetching, copying and writing chunks.
	PhaseFetching = "fetch"
	// PhaseFinishing: fsyncing the staged tree and giving it its modes.
	PhaseFinishing = "finish"
	// PhaseStaged: the snapshot is staged.
	PhaseStaged = "staged"
)
