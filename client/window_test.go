package client

import (
	"fmt"
	"testing"

	"github.com/snapsync/snapsync/verify"
)

// TestSplitWindows cuts leaders into runs of at most the window's chunks, a
// larger leader alone, and keeps manifest order.
func TestSplitWindows(t *testing.T) {
	const cs = verify.MinChunkSize
	m := &verify.Manifest{ChunkSize: cs}
	for _, chunks := range []int64{2, 3, 0, 9, 1, 1} { // files 0..5
		m.Files = append(m.Files, verify.File{Size: chunks * cs, LinkTo: -1})
	}
	all := []int{0, 1, 2, 3, 4, 5}
	for _, tc := range []struct {
		leaders []int
		limit   int
		want    string
	}{
		{all, 100, "[[0 1 2 3 4 5]]"},
		{all, 5, "[[0 1 2] [3] [4 5]]"},
		{all, 1, "[[0] [1] [2] [3] [4] [5]]"},
		{[]int{1, 4}, 3, "[[1] [4]]"},
		{nil, 3, "[]"},
	} {
		if got := fmt.Sprint(splitWindows(m, tc.leaders, tc.limit)); got != tc.want {
			t.Errorf("splitWindows(%v, %d) = %s, want %s", tc.leaders, tc.limit, got, tc.want)
		}
	}
}
