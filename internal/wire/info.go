package wire

import (
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// SnapshotInfo describes the snapshot id, whose manifest has meta m, files
// regular files of totalBytes in all, chunks of chunkSize bytes and a
// canonical encoding of manifestSize bytes. Negative counts are sent as 0.
func SnapshotInfo(id verify.Digest, m verify.Meta, files int, totalBytes int64, chunkSize uint32, manifestSize int64) *snapsyncv1.SnapshotInfo {
	return &snapsyncv1.SnapshotInfo{
		SnapshotId: id[:], Term: m.Term, Index: m.Index, Engine: m.Engine,
		CreatedUnixNano: m.CreatedUnixNano, Labels: m.Labels,
		FileCount: u64(int64(files)), TotalBytes: u64(totalBytes),
		ChunkSize: chunkSize, ManifestSize: u64(manifestSize),
	}
}

// u64 converts a count that is never negative.
func u64(n int64) uint64 { return uint64(max(n, 0)) }
