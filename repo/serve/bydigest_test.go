package serve

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/verify"
)

// TestByDigest: a repository served is a chunk source by digest: HasChunks
// and FetchByDigest answer for the chunks of the snapshot served, read from
// the repository and verified; others are left out.
func TestByDigest(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, data := fileSnapshot(t)
	s, err := New(ctx, r, verify.Digest{})
	if err != nil {
		t.Fatal(err)
	}
	c := snapsyncv1connect.NewSnapshotServiceClient(http.DefaultClient, serveStore(t, s))
	unknown := verify.Sum([]byte("in no snapshot"))
	if _, err := r.PutChunk(ctx, verify.Sum([]byte("stored, in no snapshot")), []byte("stored, in no snapshot")); err != nil {
		t.Fatal(err)
	}
	ds := []verify.Digest{unknown, verify.Sum([]byte("stored, in no snapshot"))}
	for off := 0; off < len(data); off += verify.MinChunkSize {
		ds = append(ds, verify.Sum(data[off:min(off+verify.MinChunkSize, len(data))]))
	}
	raw := make([][]byte, len(ds))
	for i := range ds {
		raw[i] = ds[i][:]
	}

	res, err := c.HasChunks(ctx, connect.NewRequest(&snapsyncv1.HasChunksRequest{Digests: raw}))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := res.Msg.GetHave(), []byte{0b11100}; len(got) != 1 || got[0] != want[0] {
		t.Errorf("have %08b, want %08b", got, want)
	}

	st, err := c.FetchByDigest(ctx, connect.NewRequest(&snapsyncv1.FetchByDigestRequest{
		Digests: raw, Compression: snapsyncv1.Compression_COMPRESSION_NONE}))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var got []uint32
	for st.Receive() {
		i := st.Msg().GetIndex()
		if verify.Sum(st.Msg().GetData()) != ds[i] {
			t.Fatalf("chunk %d: wrong bytes", i)
		}
		got = append(got, i)
	}
	if err := st.Err(); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0] != 2 || got[2] != 4 {
		t.Errorf("sent %v, want [2 3 4]", got)
	}
}
