package e2e

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/snapsync/snapsync/chunker"
	"github.com/snapsync/snapsync/internal/rpccodec"
)

// TestSpliceServe: `snapsync serve` with a token (the guard and the
// connection gate in front of the service, as run in production in the
// clear) sends every raw chunk's tail from its file by sendfile to a
// plaintext install, which gets the tree byte for byte; the leader's
// spliced-bytes counter says exactly how many bytes went that way.
// --compression none: under auto, a chunk the chooser samples is read to
// try it, and sent from what it read.
func TestSpliceServe(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("sendfile is used on Linux only")
	}
	t.Parallel()
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	sizes := map[string]int{ // random bytes: nothing compresses
		"big.sst":        3*chunker.DefaultChunkSize + 12345,
		"one-chunk.sst":  chunker.DefaultChunkSize,
		"mid/700k.log":   700 << 10,
		"mid/small":      40 << 10, // under 2*SpliceHead: read whole
		"exactly-64k":    2 * rpccodec.SpliceHead,
		"empty/MANIFEST": 0,
	}
	var want int64
	for name, size := range sizes {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		b := make([]byte, size)
		_, _ = rand.Read(b)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		for off := 0; off < size; off += chunker.DefaultChunkSize {
			if n := min(chunker.DefaultChunkSize, size-off); n >= 2*rpccodec.SpliceHead {
				want += int64(n - rpccodec.SpliceHead)
			}
		}
	}
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("splice-test-peer-token-012345678"), 0o600); err != nil {
		t.Fatal(err)
	}
	margs, maddr := metricsArgs(t)
	srv := startServe(t, "dir:"+src, append(margs, "--token-file", token, "--compression", "none")...)
	dest := filepath.Join(dir, "dest")
	res := install(t, srv.URL, dest, "--token-file", token)
	if d := sameContent(treeFiles(t, src), treeFiles(t, dest)); d != "" {
		t.Fatalf("installed tree: %s", d)
	}
	m := scrape(t, maddr)
	if got := value(m, "snapsync_server_spliced_bytes_total", ""); got != float64(want) {
		t.Errorf("spliced %v bytes, want %d (install fetched %d)", got, want, res.BytesFetched)
	}
	if got := value(m, "snapsync_server_sent_bytes_total", ""); got != float64(res.BytesFetched) {
		t.Errorf("server sent %v bytes, install fetched %d: a retry", got, res.BytesFetched)
	}
	if logs := srv.logs.String(); strings.Contains(logs, "no longer sent by sendfile") {
		t.Errorf("a misfire:\n%s", tail(logs, 4000))
	}
}
