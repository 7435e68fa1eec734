package raftkv

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"golang.org/x/sync/errgroup"
)

// The cluster test's shape: small enough for CI under -race, large enough
// that the leader's log is compacted far past the follower it cut off.
const (
	keysBefore  = 2000 // written while all three nodes are up
	keysWhile   = 3000 // written while one follower is down
	keysAfter   = 100  // written once it caught up
	valueSize   = 1024
	writers     = 64 // concurrent Puts: Raft batches what is in flight
	clusterWait = 45 * time.Second
)

// testNode is one node of the cluster test and what it takes to restart it.
type testNode struct {
	cfg     Config
	sidecar *sidecarProc
	node    *Node // nil while down
}

// TestClusterCatchUpThroughSnapsync runs three raftkv nodes, each with its own
// snapsync sidecar process, cuts a follower off while the leader writes and
// compacts its log past it, and checks that the follower, brought back, is
// caught up by a snapshot installed through the sidecars (Prepare from the
// leader's sidecar, Commit into its DB), holds exactly the leader's data and
// then keeps applying new writes. Raft snapshots are pointers only
// (CheckpointOnRequest): the checkpoint the follower installs is made by the
// leader when its sidecar asks, since none registered reaches the index.
func TestClusterCatchUpThroughSnapsync(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three sidecar processes")
	}
	ctx := sidecarContext(t)
	nodes := startCluster(ctx, t)
	writeKeys(ctx, t, nodes, 0, keysBefore)
	waitConverged(t, nodes)

	f := follower(nodes)
	behind := cutOff(t, f)
	writeKeys(ctx, t, nodes, keysBefore, keysBefore+keysWhile)
	first := compactLogs(ctx, t, nodes)
	if first <= behind+1 {
		t.Fatalf("leader's log starts at %d: not compacted past the follower's %d", first, behind)
	}

	catchUp(t, nodes, f, behind, first)
	leader := waitLeader(t, nodes)
	for _, n := range nodes {
		if n != leader {
			sameData(t, leader.node, n.node)
		}
	}
	writeKeys(ctx, t, nodes, keysBefore+keysWhile, keysBefore+keysWhile+keysAfter)
	waitApplied(t, f.node, waitLeader(t, nodes).node.AppliedIndex())
	for i := keysBefore + keysWhile; i < keysBefore+keysWhile+keysAfter; i++ {
		if v, err := f.node.Get(testKey(i)); err != nil || !bytes.Equal(v, testValue(i)) {
			t.Fatalf("after catch-up, %s: %q, %v", testKey(i), v, err)
		}
	}
}

// cutOff shuts f down, keeping its data and Raft address (the leader knows
// it there), and returns the index it had applied.
func cutOff(tb testing.TB, f *testNode) uint64 {
	tb.Helper()
	behind := f.node.AppliedIndex()
	f.cfg.RaftAddr = f.node.RaftAddr()
	if err := f.node.Shutdown(); err != nil {
		tb.Fatal(err)
	}
	f.node = nil
	tb.Logf("%s cut off at applied index %d", f.cfg.ID, behind)
	return behind
}

// catchUp restarts f on its data and waits until it has applied what the
// leader has; it checks that this went through an install by the sidecars
// and logs how long it took and how many bytes moved.
func catchUp(tb testing.TB, nodes []*testNode, f *testNode, behind, leaderFirst uint64) {
	tb.Helper()
	start := time.Now()
	f.node = startTestNode(tb, f.cfg)
	target := waitLeader(tb, nodes).node.AppliedIndex()
	waitApplied(tb, f.node, target)
	took := time.Since(start)

	// Restore records its report just after the reopened DB shows its index.
	eventually(tb, 5*time.Second, "the follower caught up without an install through its sidecar",
		func() bool { _, ok := f.node.LastInstall(); return ok })
	rep, _ := f.node.LastInstall()
	if rep.Pointer.Index <= behind || rep.Index < rep.Pointer.Index || rep.BytesFetched == 0 {
		tb.Fatalf("install %+v: want a pointer beyond %d, an index at least the pointer's, bytes fetched", rep, behind)
	}
	var onRequest uint64
	for _, n := range nodes {
		if n.node != nil && n != f {
			onRequest += n.node.CheckpointsOnRequest()
		}
	}
	if onRequest == 0 {
		tb.Fatal("no checkpoint was made on a sidecar's request")
	}
	tb.Logf("CATCH-UP: %s from index %d to %d in %v after restart; install (Prepare+Commit+reopen) %v, "+
		"Prepare %v; fetched %d bytes of %d (%d reused) in %d files; leader log starts at %d",
		f.cfg.ID, behind, target, took.Round(time.Millisecond), rep.Total.Round(time.Millisecond),
		rep.Prepare.Round(time.Millisecond), rep.BytesFetched, rep.BytesTotal, rep.BytesReused, rep.Files,
		leaderFirst)
}

// startCluster starts three sidecars, bootstraps node 0 and adds the others.
func startCluster(ctx context.Context, tb testing.TB) []*testNode {
	tb.Helper()
	root := tb.TempDir()
	nodes := make([]*testNode, 3)
	for i := range nodes {
		id := fmt.Sprintf("n%d", i)
		dataDir := filepath.Join(root, id)
		sc := startSidecar(tb, id, dataDir)
		nodes[i] = &testNode{sidecar: sc, cfg: Config{
			ID: id, DataDir: dataDir, Bootstrap: i == 0,
			SidecarPeerURL: sc.PeerURL, SidecarLocalURL: sc.LocalURL, SidecarToken: sc.Token,
			SnapshotThreshold: 1024, SnapshotInterval: 250 * time.Millisecond, TrailingLogs: 128,
			// Raft snapshots register no checkpoint: the follower's install
			// needs one made on its leader sidecar's request.
			CheckpointOnRequest: true,
			RaftTimeout:         time.Second, Logger: testLogger(tb, id),
		}}
	}
	nodes[0].node = startTestNode(tb, nodes[0].cfg)
	eventually(tb, clusterWait, "n0 never led", nodes[0].node.IsLeader)
	for _, n := range nodes[1:] {
		n.node = startTestNode(tb, n.cfg)
		if err := nodes[0].node.AddVoter(ctx, n.cfg.ID, n.node.RaftAddr()); err != nil {
			tb.Fatal(err)
		}
	}
	return nodes
}

// writeKeys puts keys [from, to) through whichever node leads.
func writeKeys(ctx context.Context, tb testing.TB, nodes []*testNode, from, to int) {
	tb.Helper()
	start := time.Now()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(writers)
	for i := from; i < to; i++ {
		g.Go(func() error { return put(gctx, nodes, testKey(i), testValue(i)) })
	}
	if err := g.Wait(); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("wrote keys %d-%d in %v", from, to-1, time.Since(start).Round(time.Millisecond))
}

// put writes key=value through the leader, retrying while leadership moves
// (a write is idempotent).
func put(ctx context.Context, nodes []*testNode, key, value []byte) error {
	for {
		if l := leaderOf(nodes); l != nil {
			err := l.node.Put(ctx, key, value)
			if !errors.Is(err, ErrNotLeader) {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return context.Cause(ctx)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// leaderOf returns the running node that leads, or nil.
func leaderOf(nodes []*testNode) *testNode {
	for _, n := range nodes {
		if n.node != nil && n.node.IsLeader() {
			return n
		}
	}
	return nil
}

// follower returns a running node that does not lead.
func follower(nodes []*testNode) *testNode {
	for _, n := range nodes {
		if n.node != nil && !n.node.IsLeader() {
			return n
		}
	}
	return nil
}

// waitLeader waits for a running node to lead, and returns it.
func waitLeader(tb testing.TB, nodes []*testNode) *testNode {
	tb.Helper()
	var l *testNode
	eventually(tb, clusterWait, "no leader", func() bool { l = leaderOf(nodes); return l != nil })
	return l
}

// waitConverged waits until every running node has applied what the leader
// has.
func waitConverged(tb testing.TB, nodes []*testNode) {
	tb.Helper()
	index := waitLeader(tb, nodes).node.AppliedIndex()
	for _, n := range nodes {
		if n.node != nil {
			waitApplied(tb, n.node, index)
		}
	}
}

// waitApplied waits until n has applied index.
func waitApplied(tb testing.TB, n *Node, index uint64) {
	tb.Helper()
	eventually(tb, clusterWait, fmt.Sprintf("%s stuck below index %d", n.ID(), index),
		func() bool { return n.AppliedIndex() >= index })
}

// compactLogs has every running node snapshot now (registering a
// checkpoint with its sidecar and compacting its log), and returns the first
// index left in the leader's log.
func compactLogs(ctx context.Context, tb testing.TB, nodes []*testNode) uint64 {
	tb.Helper()
	for _, n := range nodes {
		if n.node == nil {
			continue
		}
		if err := n.node.Snapshot(ctx); err != nil && !errors.Is(err, raft.ErrNothingNewToSnapshot) {
			tb.Fatalf("snapshot %s: %v", n.cfg.ID, err)
		}
	}
	first, err := waitLeader(tb, nodes).node.logs.FirstIndex()
	if err != nil {
		tb.Fatal(err)
	}
	return first
}

// sameData checks that two nodes hold the same keys and values.
func sameData(tb testing.TB, want, got *Node) {
	tb.Helper()
	w, g := dump(tb, want), dump(tb, got)
	if len(w) != len(g) {
		tb.Fatalf("%s holds %d keys, %s %d", want.ID(), len(w), got.ID(), len(g))
	}
	for i := range w {
		if !bytes.Equal(w[i][0], g[i][0]) || !bytes.Equal(w[i][1], g[i][1]) {
			tb.Fatalf("key #%d: %s has %q, %s has %q", i, want.ID(), w[i][0], got.ID(), g[i][0])
		}
	}
	if len(w) != keysBefore+keysWhile {
		tb.Fatalf("%d keys, want %d", len(w), keysBefore+keysWhile)
	}
}

// dump returns every key and value of n, in order.
func dump(tb testing.TB, n *Node) [][2][]byte {
	tb.Helper()
	var kvs [][2][]byte
	err := n.Scan(func(k, v []byte) error {
		kvs = append(kvs, [2][]byte{bytes.Clone(k), bytes.Clone(v)})
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return kvs
}

func testKey(i int) []byte { return fmt.Appendf(nil, "key%06d", i) }

// testValue is key i's value: valueSize bytes of pseudo-random hex (text
// that compresses about 2:1, like much KV data), the same on every call.
func testValue(i int) []byte {
	r := rand.New(rand.NewPCG(uint64(i), 0x5eed))
	b := make([]byte, 0, valueSize)
	for len(b) < valueSize {
		b = fmt.Appendf(b, "%016x", r.Uint64())
	}
	return b[:valueSize]
}
