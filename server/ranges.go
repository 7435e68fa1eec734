package server

import (
	"fmt"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// checkRanges checks that every range names chunks inside m and that they
// number at most max in all; it returns their number.
func checkRanges(m Shape, ranges []*snapsyncv1.ChunkRange, max int) (int, error) {
	if len(ranges) == 0 {
		return 0, fmt.Errorf("%w: no ranges", ErrBadRequest)
	}
	total := uint64(0)
	for i, r := range ranges {
		fi, first, count := r.GetFileIndex(), uint64(r.GetFirstChunk()), uint64(r.GetChunkCount())
		if int64(fi) >= int64(m.Files()) {
			return 0, fmt.Errorf("%w: range %d: file %d of %d", ErrBadRequest, i, fi, m.Files())
		}
		n := uint64(m.Chunks(int(fi)))
		if count == 0 || first+count > n {
			return 0, fmt.Errorf("%w: range %d: chunks [%d, %d) of file %d, which has %d", ErrBadRequest, i, first, first+count, fi, n)
		}
		total += count
		if total > uint64(max) {
			return 0, fmt.Errorf("%w: more than %d chunks in one request", ErrBadRequest, max)
		}
	}
	return int(total), nil
}
