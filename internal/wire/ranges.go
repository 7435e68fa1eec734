package wire

import snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"

// AppendChunk adds chunk of file to the ranges of a FetchChunks request:
// it extends the last range when the chunk follows it in the same file, so
// consecutive chunks travel as one range.
func AppendChunk(ranges []*snapsyncv1.ChunkRange, file, chunk int) []*snapsyncv1.ChunkRange {
	if n := len(ranges); n > 0 {
		last := ranges[n-1]
		if int(last.FileIndex) == file && int(last.FirstChunk+last.ChunkCount) == chunk {
			last.ChunkCount++
			return ranges
		}
	}
	return append(ranges, &snapsyncv1.ChunkRange{FileIndex: uint32(file), FirstChunk: uint32(chunk), ChunkCount: 1})
}
