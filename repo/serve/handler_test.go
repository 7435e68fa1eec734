package serve

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/dir"
	"github.com/snapsync/snapsync/verify"
)

// bigSnapshot commits, to a fresh directory repository, a snapshot of 6,000
// empty files with long names: a manifest of about 1.3 MiB, two pages.
func bigSnapshot(t *testing.T) (*repo.Repo, string, verify.Digest, []byte) {
	t.Helper()
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "repo")
	b, err := dir.New(root)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.OpenOrCreate(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	m := &verify.Manifest{Meta: verify.Meta{Term: 1, Index: 5, Engine: "pebble"}, ChunkSize: verify.MinChunkSize}
	for i := range 6000 {
		m.Files = append(m.Files, verify.File{Path: fmt.Sprintf("%05d-%s.sst", i, strings.Repeat("x", 200)), Mode: 0o644, LinkTo: -1})
	}
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	id, err := r.PutManifest(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit(ctx, id); err != nil {
		t.Fatal(err)
	}
	return r, filepath.Join(root, filepath.FromSlash(repo.ManifestKey(id))), id, enc
}

// getManifest calls GetManifest on h and returns the bytes received, the
// largest page, and the stream's error.
func getManifest(t *testing.T, h *Handler, id verify.Digest) ([]byte, int, error) {
	t.Helper()
	srv := httptest.NewServer(h.HTTPHandler())
	defer srv.Close()
	c := snapsyncv1connect.NewSnapshotServiceClient(http.DefaultClient, srv.URL)
	stream, err := c.GetManifest(context.Background(), connect.NewRequest(&snapsyncv1.GetManifestRequest{SnapshotId: id[:]}))
	if err != nil {
		return nil, 0, err
	}
	defer stream.Close()
	var got []byte
	largest := 0
	for stream.Receive() {
		p := stream.Msg()
		if p.GetOffset() != uint64(len(got)) || p.GetTotalSize() != uint64(h.size) {
			t.Fatalf("page at %d of %d, want at %d of %d", p.GetOffset(), p.GetTotalSize(), len(got), h.size)
		}
		got = append(got, p.GetData()...)
		largest = max(largest, len(p.GetData()))
	}
	return got, largest, stream.Err()
}

// TestGetManifestStreams serves a manifest of two pages from the
// repository object, and ends with DATA_LOSS, its last page withheld, once
// the object no longer verifies.
func TestGetManifestStreams(t *testing.T) {
	t.Parallel()
	r, file, id, enc := bigSnapshot(t)
	h, err := New(context.Background(), r, id)
	if err != nil {
		t.Fatal(err)
	}
	if h.size != int64(len(enc)) || len(enc) <= manifestPage {
		t.Fatalf("manifest of %d bytes (handler says %d), want more than a page", len(enc), h.size)
	}
	got, largest, err := getManifest(t, h, id)
	if err != nil || !bytes.Equal(got, enc) || largest > manifestPage {
		t.Fatalf("GetManifest: %d of %d bytes, pages up to %d, %v", len(got), len(enc), largest, err)
	}
	damaged := bytes.Clone(enc)
	damaged[len(damaged)-1] ^= 1
	if err := os.WriteFile(file, damaged, 0o644); err != nil {
		t.Fatal(err)
	}
	got, _, err = getManifest(t, h, id)
	if connect.CodeOf(err) != connect.CodeDataLoss || len(got) >= len(enc) || !bytes.Equal(got, enc[:len(got)]) {
		t.Fatalf("GetManifest of a damaged manifest: %d of %d bytes, %v; want DATA_LOSS before the last page", len(got), len(enc), err)
	}
	t.Logf("damaged: %d of %d bytes sent, then %v", len(got), len(enc), err)
}
