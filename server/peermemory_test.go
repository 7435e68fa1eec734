package server

import (
	"context"
	"fmt"
	"testing"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// TestPeerMemory: a stream from a peer starts from what the last stream
// from that host learnt (auto mode only), another host's does not, and the
// memory stays bounded.
func TestPeerMemory(t *testing.T) {
	t.Parallel()
	learnt := newChooser(CompressionAuto)
	learnt.on, learnt.probeEvery = false, 64
	for range minSends {
		learnt.sent(1<<20, 100_000)
	}
	learnt.compressed(1<<20, 1<<19, 2_000_000)
	m := newPeerMemory()
	m.keep("10.0.0.7:41234", learnt)

	for _, tc := range []struct {
		name, peer string
		mode       Compression
		seeded     bool
	}{
		{"same host, another port", "10.0.0.7:50000", CompressionAuto, true},
		{"another host, in IPv6 form", "[::1]:1", CompressionAuto, false},
		{"another host", "10.0.0.8:41234", CompressionAuto, false},
		{"no address", "", CompressionAuto, false},
		{"zstd asked for", "10.0.0.7:50000", CompressionZstd, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newChooser(tc.mode)
			m.seed(tc.peer, c)
			if got := !c.on && c.sentSamples == minSends && c.probeEvery == learnt.probeEvery; got != tc.seeded {
				t.Fatalf("seeded = %v (on %v, sends %d, probe every %d), want %v", got, c.on, c.sentSamples, c.probeEvery, tc.seeded)
			}
			if tc.seeded && (c.send != learnt.send || c.comp != learnt.comp || c.ratio != learnt.ratio) {
				t.Fatalf("estimates not carried: %+v / %+v", c, learnt)
			}
		})
	}

	// A stream that sent nothing teaches nothing: the memory keeps the last.
	m.keep("10.0.0.7:1", newChooser(CompressionAuto))
	c := newChooser(CompressionAuto)
	m.seed("10.0.0.7:2", c)
	if c.on {
		t.Fatal("a stream that sent nothing replaced what the last one learnt")
	}

	for i := range 2 * maxPeers {
		m.keep(fmt.Sprintf("10.1.%d.%d:1", i/256, i%256), learnt)
	}
	if n := len(m.byHost); n > maxPeers {
		t.Fatalf("%d peers remembered, at most %d", n, maxPeers)
	}

	var none *peerMemory // nil remembers nothing and does not panic
	none.keep("10.0.0.7:1", learnt)
	none.seed("10.0.0.7:1", newChooser(CompressionAuto))
}

// TestPeerMemoryWired: a FetchChunks stream in auto mode leaves what its
// chooser learnt of the client's host for the next stream.
func TestPeerMemoryWired(t *testing.T) {
	t.Parallel()
	ts := startServer(t, Config{Source: openPebble(t, 2<<20), Compression: CompressionAuto})
	res := ts.create(t, 0, 0)
	m := ts.manifest(t, res.GetSnapshot().GetSnapshotId())
	if _, err := ts.fetch(context.Background(), t, m, &snapsyncv1.FetchChunksRequest{
		SnapshotId: res.GetSnapshot().GetSnapshotId(), Ranges: allRanges(m), LeaseId: res.GetLease().GetLeaseId(),
	}); err != nil {
		t.Fatal(err)
	}
	c := newChooser(CompressionAuto)
	ts.srv.peers.seed("127.0.0.1:1", c)
	if c.sentSamples == 0 {
		t.Fatal("the server remembers nothing of 127.0.0.1 after a stream from it")
	}
}
