package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"connectrpc.com/connect"
	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/client"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/reason"
	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/repo/dir"
	"github.com/snapsync/snapsync/server"
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
func getManifest(t *testing.T, h *Store, id verify.Digest) ([]byte, int, error) {
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
		if p.GetOffset() != uint64(len(got)) || p.GetTotalSize() != uint64(h.desc.ManifestSize) {
			t.Fatalf("page at %d of %d, want at %d of %d", p.GetOffset(), p.GetTotalSize(), len(got), h.desc.ManifestSize)
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
	if h.desc.ManifestSize != int64(len(enc)) || len(enc) <= page {
		t.Fatalf("manifest of %d bytes (handler says %d), want more than a page", len(enc), h.desc.ManifestSize)
	}
	got, largest, err := getManifest(t, h, id)
	if err != nil || !bytes.Equal(got, enc) || largest > page {
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

// page is the server's GetManifest page.
const page = 1 << 20

// fileSnapshot commits, to a fresh directory repository, a snapshot of a
// file of three chunks and its hard link, at index 7; it returns the
// repository and the file's content.
func fileSnapshot(t *testing.T) (*repo.Repo, []byte) {
	t.Helper()
	ctx := context.Background()
	b, err := dir.New(filepath.Join(t.TempDir(), "repo"))
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.OpenOrCreate(ctx, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	data := make([]byte, 2*verify.MinChunkSize+100)
	rand.Read(data) // never fails
	m := &verify.Manifest{Meta: verify.Meta{Term: 2, Index: 7, Engine: "pebble"}, ChunkSize: verify.MinChunkSize,
		Dirs: []verify.Dir{{Path: "db", Mode: 0o755}}}
	f := verify.File{Path: "db/000001.sst", Size: int64(len(data)), Mode: 0o644, LinkTo: -1}
	for off := 0; off < len(data); off += verify.MinChunkSize {
		c := data[off:min(off+verify.MinChunkSize, len(data))]
		if _, err := r.PutChunk(ctx, verify.Sum(c), c); err != nil {
			t.Fatal(err)
		}
		f.Chunks = append(f.Chunks, verify.Chunk{Length: uint32(len(c)), Digest: verify.Sum(c)})
	}
	m.Files = []verify.File{f, {Path: "db/000002.sst", Size: f.Size, Mode: f.Mode, LinkTo: 0, Chunks: f.Chunks}}
	id, err := r.PutManifest(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Commit(ctx, id); err != nil {
		t.Fatal(err)
	}
	return r, data
}

// serveStore serves s's SnapshotService on loopback as a sidecar would
// (server.Serve) and returns its URL.
func serveStore(t *testing.T, s *Store) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, s.HTTPHandler()) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

// TestInstallFromRepository: the server's SnapshotService, over a
// repository snapshot, serves a real client.Install, which verifies,
// stages and swaps it in, hard link and all; a min_index above the
// snapshot's is MIN_INDEX_NOT_REACHED as from a sidecar.
func TestInstallFromRepository(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	r, data := fileSnapshot(t)
	s, err := New(ctx, r, verify.Digest{})
	if err != nil {
		t.Fatal(err)
	}
	url := serveStore(t, s)
	dest := filepath.Join(t.TempDir(), "dest")
	res, err := client.Install(ctx, url, 0, client.Config{Dest: dest, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	if res.SnapshotID != s.Info().ID || res.Index != 7 {
		t.Fatalf("installed %s at index %d, want %s at 7", res.SnapshotID, res.Index, s.Info().ID)
	}
	for _, name := range []string{"db/000001.sst", "db/000002.sst"} {
		if got, err := os.ReadFile(filepath.Join(dest, name)); err != nil || !bytes.Equal(got, data) {
			t.Fatalf("%s after install: %d bytes, %v", name, len(got), err)
		}
	}
	a, errA := os.Stat(filepath.Join(dest, "db/000001.sst"))
	b, errB := os.Stat(filepath.Join(dest, "db/000002.sst"))
	if errA != nil || errB != nil || !os.SameFile(a, b) {
		t.Fatalf("hard link not kept: %v, %v", errA, errB)
	}
	_, err = client.Install(ctx, url, 8, client.Config{Dest: filepath.Join(t.TempDir(), "dest"), Logger: zerolog.Nop()})
	if why, md, _ := reason.Of(err); why != reason.MinIndexNotReached || md[reason.MetaNewestIndex] != "7" {
		t.Fatalf("install at min_index 8 of a snapshot at 7: %v (%q, %v), want %s, newest 7", err, why, md, reason.MinIndexNotReached)
	}
}

// TestUnknownSnapshot: a snapshot other than the one served is NOT_FOUND,
// UNKNOWN_SNAPSHOT, from every call that names one.
func TestUnknownSnapshot(t *testing.T) {
	t.Parallel()
	r, _ := fileSnapshot(t)
	s, err := New(context.Background(), r, verify.Digest{})
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = getManifest(t, s, verify.Digest{1})
	if why, _, _ := reason.Of(err); connect.CodeOf(err) != connect.CodeNotFound || why != reason.UnknownSnapshot {
		t.Fatalf("GetManifest of another snapshot: %v (%q)", err, why)
	}
}
