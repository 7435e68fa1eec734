package wire

import (
	"testing"

	"google.golang.org/protobuf/proto"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

func TestAppendChunk(t *testing.T) {
	var got []*snapsyncv1.ChunkRange
	for _, c := range [][2]int{{0, 0}, {0, 1}, {0, 2}, {1, 0}, {1, 2}, {1, 3}, {0, 3}} {
		got = AppendChunk(got, c[0], c[1])
	}
	want := []*snapsyncv1.ChunkRange{
		{FileIndex: 0, FirstChunk: 0, ChunkCount: 3},
		{FileIndex: 1, FirstChunk: 0, ChunkCount: 1},
		{FileIndex: 1, FirstChunk: 2, ChunkCount: 2},
		{FileIndex: 0, FirstChunk: 3, ChunkCount: 1}, // not merged across another file's range
	}
	if len(got) != len(want) {
		t.Fatalf("%d ranges, want %d: %v", len(got), len(want), got)
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("range %d = %v, want %v", i, got[i], want[i])
		}
	}
}
