package e2e

import (
	"errors"
	"path/filepath"
	"testing"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/sampledb"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// TestHostileNoSpaceBeforeManifest: a peer offers a valid snapshot at the
// manifest limit (MaxTotalChunks chunks of 1 MiB: 4 TiB) that no disk here
// holds, and says so in CreateSnapshot's total_bytes. The install is
// refused for space before it asks for the manifest, within the small
// client's memory, and changes nothing outside the staging area.
func TestHostileNoSpaceBeforeManifest(t *testing.T) {
	t.Parallel()
	oldDB := filepath.Join(t.TempDir(), "db")
	writePebble(t, oldDB, sampledb.Fill{Seed: 5, Bytes: 256 * kib})
	const chunkSize = 1 << 20
	var peer *hostilePeer
	runHostile(t, oldDB, hostileCase{
		name: "4 TiB at the chunk limit",
		peer: func(tb testing.TB) *hostilePeer {
			peer = &hostilePeer{manifest: validManifestOf(tb, verify.MaxTotalChunks, 4096, chunkSize),
				fetchErr: connect.NewError(connect.CodePermissionDenied, errors.New("not for you")),
				info: func(info *snapsyncv1.SnapshotInfo) {
					info.ChunkSize, info.TotalBytes, info.FileCount = chunkSize, uint64(verify.MaxTotalChunks)*chunkSize, 4096
				}}
			return peer
		},
		want: "not enough free space",
	})
	if n := peer.calls.Load(); n != 0 {
		t.Errorf("%d GetManifest calls, want none: total_bytes already said it could not fit", n)
	}
}
