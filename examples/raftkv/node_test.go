package raftkv

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"
)

// startTestNode starts a node from cfg and shuts it down when the test ends.
func startTestNode(tb testing.TB, cfg Config) *Node {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := Start(ctx, cfg)
	if err != nil {
		tb.Fatalf("start %s: %v", cfg.ID, err)
	}
	tb.Cleanup(func() {
		if err := n.Shutdown(); err != nil {
			tb.Errorf("shut down %s: %v", cfg.ID, err)
		}
	})
	return n
}

// eventually polls cond until it holds or d passes.
func eventually(tb testing.TB, d time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// loneConfig is a one-node cluster whose sidecar is unreachable: enough for
// everything but snapshots.
func loneConfig(tb testing.TB, id, dataDir string) Config {
	tb.Helper()
	return Config{
		ID: id, DataDir: dataDir, Bootstrap: true, RaftTimeout: 100 * time.Millisecond,
		SidecarPeerURL: unreachable, SidecarLocalURL: unreachable, Logger: testLogger(tb, id),
	}
}

func TestNodeSingle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	cfg := loneConfig(t, "solo", t.TempDir())
	n := startTestNode(t, cfg)
	eventually(t, 10*time.Second, "no leader", n.IsLeader)
	for i := range 20 {
		if err := n.Put(ctx, fmt.Appendf(nil, "key%02d", i), fmt.Appendf(nil, "value%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := n.Put(ctx, nil, []byte("v")); !errors.Is(err, ErrCommand) {
		t.Fatalf("empty key: %v, want ErrCommand", err)
	}
	if v, err := n.Get([]byte("key07")); err != nil || string(v) != "value7" {
		t.Fatalf("key07 = %q, %v", v, err)
	}
	if _, err := n.Get([]byte("key99")); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v, want ErrNotFound", err)
	}
	checkKeys(t, n, 20)
	if id, addr := n.Leader(); id != "solo" || addr != n.RaftAddr() {
		t.Fatalf("leader %s at %s, want solo at %s", id, addr, n.RaftAddr())
	}

	// A restart keeps the Raft log and term: the node is leader again, and
	// what it writes next lands on top instead of being taken for a replay.
	applied, addr := n.AppliedIndex(), n.RaftAddr()
	if err := n.Shutdown(); err != nil {
		t.Fatal(err)
	}
	if err := n.Put(ctx, []byte("late"), nil); err == nil {
		t.Fatal("put after shutdown succeeded")
	}
	cfg.RaftAddr = addr
	n = startTestNode(t, cfg)
	if got := n.AppliedIndex(); got != applied {
		t.Fatalf("restarted at applied index %d, want %d", got, applied)
	}
	eventually(t, 10*time.Second, "no leader after restart", n.IsLeader)
	if err := n.Put(ctx, []byte("key20"), []byte("after restart")); err != nil {
		t.Fatal(err)
	}
	if v, err := n.Get([]byte("key20")); err != nil || string(v) != "after restart" {
		t.Fatalf("key20 = %q, %v", v, err)
	}
	checkKeys(t, n, 21)
}

// checkKeys checks that n holds want keys, in order.
func checkKeys(tb testing.TB, n *Node, want int) {
	tb.Helper()
	var keys [][]byte
	err := n.Scan(func(k, _ []byte) error {
		keys = append(keys, append([]byte(nil), k...))
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	if len(keys) != want {
		tb.Fatalf("%d keys, want %d", len(keys), want)
	}
	for i := 1; i < len(keys); i++ {
		if string(keys[i-1]) >= string(keys[i]) {
			tb.Fatalf("scan out of order: %q then %q", keys[i-1], keys[i])
		}
	}
}

func TestNodeNotLeader(t *testing.T) {
	t.Parallel()
	cfg := loneConfig(t, "idle", t.TempDir())
	cfg.Bootstrap = false // waits to be added: never a leader
	n := startTestNode(t, cfg)
	err := n.Put(context.Background(), []byte("k"), []byte("v"))
	if !errors.Is(err, ErrNotLeader) {
		t.Fatalf("put on a node with no cluster: %v, want ErrNotLeader", err)
	}
	if id, _ := n.Leader(); id != "" {
		t.Fatalf("leader %q, want none", id)
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	good := Config{ID: "n1", DataDir: "/d", SidecarPeerURL: "http://h:1", SidecarLocalURL: "http://h:2"}
	testCases := []struct {
		name  string
		edit  func(*Config)
		wants int // problems reported
	}{
		{"good", func(*Config) {}, 0},
		{"empty", func(c *Config) { *c = Config{} }, 4},
		{"bad urls", func(c *Config) { c.SidecarPeerURL, c.SidecarLocalURL = "h:1", "unix:///s" }, 2},
		{"bad raft addr", func(c *Config) { c.RaftAddr = "nohost" }, 1},
		{"negative", func(c *Config) { c.InstallTimeout = -time.Second }, 1},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := good
			tc.edit(&c)
			c.EnsureDefaults()
			err := c.Validate()
			var got int
			if j, ok := err.(interface{ Unwrap() []error }); ok {
				got = len(j.Unwrap())
			}
			if got != tc.wants || (got > 0 && !errors.Is(err, ErrConfig)) {
				t.Fatalf("got %d problems (%v), want %d", got, err, tc.wants)
			}
		})
	}
}
