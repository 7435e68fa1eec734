package sidecar

import (
	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/wire"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// progressMsg is an install's progress on the wire.
func progressMsg(st snapsyncv1.InstallState, p client.Progress) *snapsyncv1.Progress {
	return &snapsyncv1.Progress{
		State: st, BytesTotal: u64(p.BytesTotal), BytesDone: u64(p.BytesDone),
		BytesFetched: u64(p.BytesFetched), BytesReused: u64(p.BytesReused), FilesTotal: u64(int64(p.Files)),
		BytesFromSources: u64(p.BytesFromSources), Phase: phaseMsg(p.Phase),
	}
}

// phaseMsg is a client phase on the wire.
func phaseMsg(phase string) snapsyncv1.Phase {
	switch phase {
	case client.PhaseConnecting:
		return snapsyncv1.Phase_PHASE_CONNECTING
	case client.PhaseWaitingForCheckpoint:
		return snapsyncv1.Phase_PHASE_WAITING_FOR_CHECKPOINT
	case client.PhaseFetchingManifest:
		return snapsyncv1.Phase_PHASE_FETCHING_MANIFEST
	case client.PhasePlanning:
		return snapsyncv1.Phase_PHASE_PLANNING
	case client.PhaseFetching:
		return snapsyncv1.Phase_PHASE_FETCHING
	case client.PhaseFinishing:
		return snapsyncv1.Phase_PHASE_FINISHING
	case client.PhaseStaged:
		return snapsyncv1.Phase_PHASE_STAGED
	}
	return snapsyncv1.Phase_PHASE_UNSPECIFIED
}

// resultProgress is the progress of a finished Prepare: everything done.
func resultProgress(st snapsyncv1.InstallState, r client.Result) *snapsyncv1.Progress {
	return &snapsyncv1.Progress{
		State: st, BytesTotal: u64(r.BytesTotal), BytesDone: u64(r.BytesTotal),
		BytesFetched: u64(r.BytesFetched), BytesReused: u64(r.BytesReused), FilesTotal: u64(int64(r.Files)),
		BytesFromSources: u64(sum(r.SourceBytes)), Phase: snapsyncv1.Phase_PHASE_STAGED,
	}
}

// sum adds up a Result's bytes by chunk source.
func sum(bySource map[string]int64) int64 {
	var n int64
	for _, b := range bySource {
		n += b
	}
	return n
}

// infoMsg describes a staged or installed snapshot on the wire.
func infoMsg(r client.Result) *snapsyncv1.SnapshotInfo {
	m := r.Meta
	m.Term, m.Index = r.Term, r.Index // the Result's own fields are the ones always set
	return wire.SnapshotInfo(r.SnapshotID, m, r.Files, r.BytesTotal, r.ChunkSize, r.ManifestSize)
}

// u64 converts a count that is never negative.
func u64(n int64) uint64 { return uint64(max(n, 0)) }
