package wire

import (
	"testing"

	"google.golang.org/protobuf/proto"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

func TestSnapshotInfo(t *testing.T) {
	t.Parallel()
	id := verify.Digest{1, 2, 3}
	m := verify.Meta{Term: 3, Index: 42, Engine: "pebble", CreatedUnixNano: 7, Labels: map[string]string{"om": "om1"}}
	got := SnapshotInfo(id, m, 5, 1000, 64<<10, 321)
	want := &snapsyncv1.SnapshotInfo{SnapshotId: id[:], Term: 3, Index: 42, Engine: "pebble", CreatedUnixNano: 7,
		Labels: map[string]string{"om": "om1"}, FileCount: 5, TotalBytes: 1000, ChunkSize: 64 << 10, ManifestSize: 321}
	if !proto.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if got := SnapshotInfo(id, m, -1, -1, 0, -1); got.GetFileCount() != 0 || got.GetTotalBytes() != 0 || got.GetManifestSize() != 0 {
		t.Fatalf("negative counts: got %v", got)
	}
}
