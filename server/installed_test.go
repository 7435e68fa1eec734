package server_test

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/jonboulle/clockwork"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/testlog"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

const installedChunkSize = 64 << 10

// serve serves srv on 127.0.0.1 until the test ends and returns its URL.
func serve(tb testing.TB, cfg server.Config) string {
	tb.Helper()
	cfg.WorkDir, cfg.ChunkSize, cfg.Logger = filepath.Join(tb.TempDir(), "work"), installedChunkSize, testlog.Logger(tb)
	srv, err := server.New(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, srv.Handler()) }()
	tb.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			tb.Error(err)
		}
		if err := srv.Close(); err != nil {
			tb.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

// source writes files (name: bytes) to a fresh dir and returns a dir
// source over it.
func source(tb testing.TB, files map[string][]byte) *dirsource.Source {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "src")
	for name, b := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	src, err := dirsource.New(dir, verify.Meta{Term: 1, Index: 10})
	if err != nil {
		tb.Fatal(err)
	}
	return src
}

// pattern is n bytes that differ with seed, none repeating a chunk.
func pattern(seed byte, n int) []byte {
	b := make([]byte, n)
	x := uint32(seed)*2654435761 + 1
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

func chunkDigests(b []byte) []verify.Digest {
	var ds []verify.Digest
	for off := 0; off < len(b); off += installedChunkSize {
		ds = append(ds, verify.Sum(b[off:min(off+installedChunkSize, len(b))]))
	}
	return ds
}

// TestByDigestInstalled: a sidecar serves the chunks of the database its
// node installed (client.Install into dest) as the follower digest cache
// beside it maps them; a file changed after it was indexed, or swapped for
// a symlink, is a miss, never wrong bytes.
func TestByDigestInstalled(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := pattern(1, 3*installedChunkSize+10), pattern(2, 2*installedChunkSize)
	leader := serve(t, server.Config{Source: source(t, map[string][]byte{"000001.sst": a, "sub/000002.sst": b})})
	dest := filepath.Join(t.TempDir(), "db")
	if _, err := client.Install(ctx, leader, 0, client.Config{Dest: dest}); err != nil {
		t.Fatal(err)
	}
	follower := serve(t, server.Config{Source: source(t, map[string][]byte{"x": []byte("other")}),
		InstalledDest: dest, InstalledRecheck: time.Hour})
	c := snapsyncv1connect.NewSnapshotServiceClient(http.DefaultClient, follower)
	ds := append(chunkDigests(a), chunkDigests(b)...)
	unknown := verify.Sum([]byte("none"))
	ask := append(ds, unknown)
	have := has(t, c, ask)
	for i, ok := range have {
		if ok != (i < len(ds)) {
			t.Errorf("HasChunks[%d] = %v", i, ok)
		}
	}
	if got := fetch(t, c, ask); len(got) != len(ds) {
		t.Errorf("sent %d chunks, want %d", len(got), len(ds))
	}

	// 000001.sst rewritten after it was indexed; sub/000002.sst swapped for
	// a symlink to a file of the same bytes outside dest.
	if err := os.WriteFile(filepath.Join(dest, "000001.sst"), make([]byte, len(a)), 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "outside")
	if err := os.WriteFile(outside, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dest, "sub", "000002.sst")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(dest, "sub", "000002.sst")); err != nil {
		t.Fatal(err)
	}
	if got := fetch(t, c, ds); len(got) != 0 {
		t.Errorf("sent chunks %v of files changed since indexed", got)
	}
}

func has(tb testing.TB, c snapsyncv1connect.SnapshotServiceClient, ds []verify.Digest) []bool {
	tb.Helper()
	res, err := c.HasChunks(context.Background(), connect.NewRequest(&snapsyncv1.HasChunksRequest{Digests: raw(ds)}))
	if err != nil {
		tb.Fatal(err)
	}
	have := make([]bool, len(ds))
	for i := range ds {
		have[i] = res.Msg.GetHave()[i/8]&(1<<(i%8)) != 0
	}
	return have
}

// fetch returns the indexes FetchByDigest sent, each checked to hash to its
// digest.
func fetch(tb testing.TB, c snapsyncv1connect.SnapshotServiceClient, ds []verify.Digest) []uint32 {
	tb.Helper()
	st, err := c.FetchByDigest(context.Background(), connect.NewRequest(&snapsyncv1.FetchByDigestRequest{
		Digests: raw(ds), Compression: snapsyncv1.Compression_COMPRESSION_NONE}))
	if err != nil {
		tb.Fatal(err)
	}
	defer st.Close()
	var got []uint32
	for st.Receive() {
		i := st.Msg().GetIndex()
		if verify.Sum(st.Msg().GetData()) != ds[i] {
			tb.Fatalf("chunk %d: wrong bytes", i)
		}
		got = append(got, i)
	}
	if err := st.Err(); err != nil {
		tb.Fatal(err)
	}
	return got
}

func raw(ds []verify.Digest) [][]byte {
	b := make([][]byte, len(ds))
	for i := range ds {
		b[i] = ds[i][:]
	}
	return b
}

// TestByDigestInstalledReindex: when the follower digest cache changes (a
// new install into dest), the index is rebuilt on the next call after
// InstalledRecheck: the new database's chunks are served, the old ones not.
func TestByDigestInstalledReindex(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dest := filepath.Join(t.TempDir(), "db")
	install := func(data []byte) {
		t.Helper()
		src := source(t, map[string][]byte{"000001.sst": data})
		leader := serve(t, server.Config{Source: src})
		if _, err := client.Install(ctx, leader, 0, client.Config{Dest: dest}); err != nil {
			t.Fatal(err)
		}
	}
	before, after := pattern(3, 2*installedChunkSize), pattern(4, 2*installedChunkSize)
	install(before)
	clock := clockwork.NewFakeClock()
	follower := serve(t, server.Config{Source: source(t, map[string][]byte{"x": []byte("other")}),
		InstalledDest: dest, InstalledRecheck: time.Second, Clock: clock})
	c := snapsyncv1connect.NewSnapshotServiceClient(http.DefaultClient, follower)
	ds := append(chunkDigests(before), chunkDigests(after)...)
	if got := has(t, c, ds); !got[0] || !got[1] || got[2] || got[3] {
		t.Fatalf("before the second install: have %v", got)
	}
	install(after)
	if got := has(t, c, ds); !got[0] { // within InstalledRecheck: the cache file is not looked at
		t.Fatalf("rechecked within InstalledRecheck: have %v", got)
	}
	clock.Advance(time.Second)
	if got := has(t, c, ds); got[0] || got[1] || !got[2] || !got[3] {
		t.Fatalf("after the second install: have %v", got)
	}
	if got := fetch(t, c, ds); len(got) != 2 || got[0] != 2 {
		t.Errorf("sent %v, want [2 3]", got)
	}
}
