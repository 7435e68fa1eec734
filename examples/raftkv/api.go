package raftkv

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hashicorp/raft"
)

// Put replicates key=value through the Raft log and returns once it is
// committed and applied on this node, which must be the leader.
func (n *Node) Put(ctx context.Context, key, value []byte) error {
	b, err := encodeCommand(command{Key: key, Value: value})
	if err != nil {
		return err
	}
	if n.raft.State() != raft.Leader {
		return n.notLeader()
	}
	f := n.raft.Apply(b, timeoutOf(ctx))
	if err := wait(ctx, f); err != nil {
		if errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) {
			return fmt.Errorf("%w: %v", n.notLeader(), err)
		}
		return fmt.Errorf("apply: %w", err)
	}
	if err, ok := f.Response().(error); ok {
		return err
	}
	return nil
}

// Get returns key's value in this node's DB: the leader's is current, a
// follower's may lag. It returns ErrNotFound for a missing key.
func (n *Node) Get(key []byte) ([]byte, error) {
	return n.fsm.get(key)
}

// Scan calls fn for every key and value in this node's DB, in key order; the
// slices are valid only during the call. An install waits for it.
func (n *Node) Scan(fn func(key, value []byte) error) error {
	return n.fsm.scan(fn)
}

// AddVoter adds (or re-addresses) a voting member; n must be the leader.
func (n *Node) AddVoter(ctx context.Context, id, addr string) error {
	f := n.raft.AddVoter(raft.ServerID(id), raft.ServerAddress(addr), 0, timeoutOf(ctx))
	if err := wait(ctx, f); err != nil {
		if errors.Is(err, raft.ErrNotLeader) {
			return n.notLeader()
		}
		return fmt.Errorf("add voter %s: %w", id, err)
	}
	return nil
}

// Snapshot makes Raft take a snapshot now: a checkpoint registered with the
// sidecar, and a pointer to it. Raft then compacts its log to TrailingLogs.
func (n *Node) Snapshot(ctx context.Context) error {
	if err := wait(ctx, n.raft.Snapshot()); err != nil {
		return fmt.Errorf("snapshot: %w", err)
	}
	return nil
}

// Leader returns the ID and Raft address of the leader this node knows of;
// empty strings when it knows none.
func (n *Node) Leader() (id, addr string) {
	a, i := n.raft.LeaderWithID()
	return string(i), string(a)
}

// IsLeader reports whether this node is the leader.
func (n *Node) IsLeader() bool { return n.raft.State() == raft.Leader }

// ID returns the node's Raft server ID.
func (n *Node) ID() string { return n.cfg.ID }

// RaftAddr returns the address the Raft transport listens on.
func (n *Node) RaftAddr() string { return string(n.trans.LocalAddr()) }

// AppliedIndex returns the Raft index of the last command the DB reflects.
func (n *Node) AppliedIndex() uint64 { return n.fsm.index.Load() }

// CheckpointsOnRequest returns how many checkpoints the node made because its
// sidecar asked (a follower needed an index none registered reached).
func (n *Node) CheckpointsOnRequest() uint64 { return n.fsm.requested.Load() }

// LastInstall returns the last snapshot install that went through the
// sidecar's Commit, if any since Start.
func (n *Node) LastInstall() (InstallReport, bool) { return n.fsm.lastInstall() }

// notLeader returns ErrNotLeader naming the leader, when known.
func (n *Node) notLeader() error {
	id, addr := n.Leader()
	if id == "" {
		return fmt.Errorf("%w (no leader known)", ErrNotLeader)
	}
	return fmt.Errorf("%w (leader %s at %s)", ErrNotLeader, id, addr)
}

// timeoutOf is how long Raft may wait to enqueue a call: ctx's time left, or
// 0 (no limit) without a deadline.
func timeoutOf(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return max(time.Until(d), time.Millisecond)
	}
	return 0
}

// wait waits for a Raft future or ctx; Raft resolves every future, at the
// latest on shutdown, so the waiting goroutine always ends.
func wait(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}
