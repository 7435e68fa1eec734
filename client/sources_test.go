package client

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	pebbledb "github.com/cockroachdb/pebble/v2"

	"github.com/snapsync/snapsync/internal/testdb"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/server"
	dirsource "github.com/snapsync/snapsync/source/dir"
	"github.com/snapsync/snapsync/verify"
)

// checkpointOf makes a Pebble checkpoint of leader's DB, for several peers
// to serve as the same data.
func checkpointOf(tb testing.TB, db *pebbledb.DB) string {
	tb.Helper()
	dir := filepath.Join(tb.TempDir(), "cp")
	if err := db.Checkpoint(dir, pebbledb.WithFlushedWAL()); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// servePeer serves dir as a peer whose checkpoint reflects index: peers of
// different indexes have different snapshot IDs over the same bytes.
func servePeer(tb testing.TB, dir string, index uint64) *testServer {
	tb.Helper()
	src, err := dirsource.New(dir, verify.Meta{Term: 1, Index: index, CreatedUnixNano: 1})
	if err != nil {
		tb.Fatal(err)
	}
	return startServer(tb, server.Config{Source: src}, "")
}

// downURL is a URL nothing listens on.
func downURL(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	if err := ln.Close(); err != nil {
		tb.Fatal(err)
	}
	return u
}

// TestInstallPicksSource: of a peer that is down, one behind min_index, one
// that reaches it and one further ahead (listed last), the install probes
// all and fetches from the one ahead.
func TestInstallPicksSource(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 2<<20)
	cp := checkpointOf(t, leader.DB())
	behind, reaches, ahead := servePeer(t, cp, 10), servePeer(t, cp, 60), servePeer(t, cp, 100)
	dest := filepath.Join(t.TempDir(), "db")
	sources := []string{downURL(t), behind.url, reaches.url, ahead.url}
	res, err := InstallFrom(context.Background(), sources, 50, testConfig(t, dest))
	if err != nil {
		t.Fatal(err)
	}
	testdb.CheckSameDB(t, leader.DB(), dest)
	if res.Source != ahead.url || res.Index != 100 || len(res.Failovers) != 0 {
		t.Fatalf("installed index %d from %s after %v, want index 100 from %s at once", res.Index, res.Source, res.Failovers, ahead.url)
	}
}

// TestInstallFromNoSource: with every peer down or behind, the install
// fails at once with ErrMinIndex, naming them.
func TestInstallFromNoSource(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 1<<20)
	behind := servePeer(t, checkpointOf(t, leader.DB()), 10)
	dest := filepath.Join(t.TempDir(), "db")
	_, err := InstallFrom(context.Background(), []string{downURL(t), behind.url}, 50, testConfig(t, dest))
	if !errors.Is(err, ErrMinIndex) {
		t.Fatalf("err = %v, want ErrMinIndex", err)
	}
	_, err = InstallFrom(context.Background(), []string{downURL(t), downURL(t)}, 50, testConfig(t, dest))
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

// TestInstallFailsOver: the peer an install picked dies mid-way; the install
// finishes from the next one, whose snapshot has another ID, fetching again
// at most what was in flight (a chunk a stream): everything the first peer
// sent and the install verified is reused.
func TestInstallFailsOver(t *testing.T) {
	t.Parallel()
	leader := openLeader(t, 24<<20) // beyond what the 8 MiB window lets ahead
	cp := checkpointOf(t, leader.DB())
	first, second := servePeer(t, cp, 100), servePeer(t, cp, 90)
	dest := filepath.Join(t.TempDir(), "db")
	cfg := testConfig(t, dest)
	cfg.MaxAttempts, cfg.Compression = 2, snapsyncv1.Compression_COMPRESSION_NONE
	// One stream: what a chunk stream's sockets hold when the peer closes
	// them (a few MiB each) still arrives, and four of them would hold most
	// of this DB.
	cfg.Streams = 1
	var (
		mu      sync.Mutex
		written int
	)
	cfg.Hook = func(point string) error {
		if point != "chunk-written" {
			return nil
		}
		mu.Lock() // the other streams wait while the peer dies
		defer mu.Unlock()
		if written++; written == 20 {
			first.stop()
		}
		return nil
	}
	res, err := InstallFrom(context.Background(), []string{second.url, first.url}, 50, cfg)
	if err != nil {
		t.Fatal(err)
	}
	testdb.CheckSameDB(t, leader.DB(), dest)
	if res.Source != second.url || len(res.Failovers) != 1 || res.Failovers[0].Source != first.url {
		t.Fatalf("installed from %s after %+v; want from %s after %s", res.Source, res.Failovers, second.url, first.url)
	}
	before := res.Failovers[0].BytesFetched
	inFlight := int64(cfg.Streams * testChunkSize)
	t.Logf("total %d; first peer sent %d; second sent %d, reused %d; failover error: %v",
		res.BytesTotal, before, res.BytesFetched, res.BytesReused, res.Failovers[0].Err)
	switch {
	case before < 20*testChunkSize || before > res.BytesTotal*3/4:
		t.Fatalf("the first peer sent %d of %d bytes, want a part", before, res.BytesTotal)
	case before+res.BytesFetched > res.BytesTotal+inFlight:
		t.Fatalf("fetched %d + %d of %d bytes: more than %d again", before, res.BytesFetched, res.BytesTotal, inFlight)
	case res.BytesReused < before-inFlight:
		t.Fatalf("reused %d of the %d bytes the first peer sent", res.BytesReused, before)
	}
}

// TestRankPeers: the order in which sources are tried.
func TestRankPeers(t *testing.T) {
	t.Parallel()
	down := errors.New("refused")
	testCases := []struct {
		name  string
		peers []peer
		want  []string
		err   error
	}{
		{"highest first, ties in list order", []peer{
			{url: "a", known: true, newest: 60}, {url: "b", known: true, newest: 100},
			{url: "c", known: true, newest: 100}, {url: "d", known: true, newest: 50},
		}, []string{"b", "c", "a", "d"}, nil},
		{"down and behind left out", []peer{
			{url: "a", err: down}, {url: "b", known: true, newest: 49}, {url: "c", known: true, newest: 50},
		}, []string{"c"}, nil},
		{"unknown and on-demand after, in list order", []peer{
			{url: "a"}, {url: "b", known: true, newest: 10, onDemand: true}, {url: "c", known: true, newest: 70},
		}, []string{"c", "a", "b"}, nil},
		{"all behind", []peer{{url: "a", known: true, newest: 1}, {url: "b", err: down}}, nil, ErrMinIndex},
		{"all down", []peer{{url: "a", err: down}}, nil, ErrUnavailable},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := rankPeers(tc.peers, 50)
			if !errors.Is(err, tc.err) || !slices.Equal(got, tc.want) {
				t.Fatalf("rankPeers = %v, %v; want %v, %v", got, err, tc.want, tc.err)
			}
		})
	}
}
