package raftkv

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Raft transport and snapshot store settings.
const (
	transportPool     = 3
	transportTimeout  = 10 * time.Second
	snapshotsRetained = 2
)

// Node is one member of a raftkv cluster: a Raft instance whose state machine
// is a Pebble DB installed, when it falls behind, through snapsync.
type Node struct {
	cfg    Config
	raft   *raft.Raft
	trans  *raft.NetworkTransport
	logs   *logStore
	fsm    *fsm
	cancel context.CancelCauseFunc

	watching     sync.WaitGroup // the watch of checkpoint requests
	shutdownOnce sync.Once
	shutdownErr  error
}

// Start opens the node's DB and starts Raft. With cfg.Bootstrap and no state
// yet it bootstraps a cluster of itself; otherwise it waits for a leader to
// add it (AddVoter) or, if it was a member, rejoins with the Raft log and
// votes it kept in DataDir/raft; entries its DB already reflects are skipped.
func Start(ctx context.Context, cfg Config) (_ *Node, err error) {
	cfg.EnsureDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, dir := range []string{cfg.DataDir, cfg.CheckpointDir, raftDir(cfg.DataDir)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	st, err := openStore(dbDir(cfg.DataDir), cfg.Logger)
	if err != nil {
		return nil, err
	}
	nodeCtx, cancel := context.WithCancelCause(context.WithoutCancel(ctx))
	n := &Node{cfg: cfg, cancel: cancel}
	defer func() {
		if err != nil {
			err = errors.Join(err, n.Shutdown())
		}
	}()
	if n.fsm, err = newFSM(nodeCtx, &cfg, st, newSidecarClient(cfg.HTTPClient, cfg.SidecarLocalURL)); err != nil {
		return nil, errors.Join(err, st.close())
	}
	if err := n.startRaft(); err != nil {
		return nil, err
	}
	n.watching.Add(1)
	go func() { defer n.watching.Done(); n.fsm.watchRequests(nodeCtx) }()
	cfg.Logger.Info().Str("id", cfg.ID).Str("raft_addr", n.RaftAddr()).
		Uint64("applied", n.AppliedIndex()).Msg("node started")
	return n, nil
}

// startRaft makes the transport and stores, bootstraps if asked, and starts
// Raft.
func (n *Node) startRaft() error {
	logw := &raftLog{log: n.cfg.Logger}
	trans, err := raft.NewTCPTransport(n.cfg.RaftAddr, nil, transportPool, transportTimeout, logw)
	if err != nil {
		return fmt.Errorf("raft transport: %w", err)
	}
	n.trans = trans
	snaps, err := raft.NewFileSnapshotStore(raftDir(n.cfg.DataDir), snapshotsRetained, logw)
	if err != nil {
		return fmt.Errorf("raft snapshot store: %w", err)
	}
	if n.logs, err = openLogStore(filepath.Join(raftDir(n.cfg.DataDir), "log"), n.cfg.Logger); err != nil {
		return err
	}
	rc := raftConfig(&n.cfg, logw)
	if err := n.bootstrap(rc, snaps); err != nil {
		return err
	}
	r, err := raft.NewRaft(rc, n.fsm, n.logs, n.logs, snaps, trans)
	if err != nil {
		return fmt.Errorf("start raft: %w", err)
	}
	n.raft = r
	return nil
}

// bootstrap makes a one-node cluster of n when asked and n has no state: no
// Raft state and nothing applied in its DB.
func (n *Node) bootstrap(rc *raft.Config, snaps raft.SnapshotStore) error {
	if !n.cfg.Bootstrap || n.AppliedIndex() > 0 {
		return nil
	}
	has, err := raft.HasExistingState(n.logs, n.logs, snaps)
	if err != nil || has {
		return err
	}
	servers := raft.Configuration{Servers: []raft.Server{{
		Suffrage: raft.Voter, ID: rc.LocalID, Address: n.trans.LocalAddr(),
	}}}
	if err := raft.BootstrapCluster(rc, n.logs, n.logs, snaps, n.trans, servers); err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	return nil
}

// raftConfig turns cfg into Raft's configuration.
func raftConfig(cfg *Config, logw *raftLog) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(cfg.ID)
	rc.SnapshotThreshold = cfg.SnapshotThreshold
	rc.SnapshotInterval = cfg.SnapshotInterval
	rc.TrailingLogs = cfg.TrailingLogs
	rc.HeartbeatTimeout = cfg.RaftTimeout
	rc.ElectionTimeout = cfg.RaftTimeout
	rc.LeaderLeaseTimeout = cfg.RaftTimeout / 2
	rc.LogOutput = logw
	rc.LogLevel = "INFO"
	return rc
}

// raftDir is where a node's Raft log (in log/) and snapshot pointers live.
func raftDir(dataDir string) string { return filepath.Join(dataDir, "raft") }

// Shutdown stops Raft, abandons an install under way (the sidecar keeps what
// it staged) and closes the DB. It is safe to call more than once.
func (n *Node) Shutdown() error {
	n.shutdownOnce.Do(func() {
		n.cancel(ErrClosed)
		n.watching.Wait()
		var errs []error
		if n.raft != nil {
			errs = append(errs, n.raft.Shutdown().Error())
		}
		if n.trans != nil {
			errs = append(errs, n.trans.Close())
		}
		if n.logs != nil {
			errs = append(errs, n.logs.close())
		}
		if n.fsm != nil {
			errs = append(errs, n.fsm.close())
		}
		n.shutdownErr = errors.Join(errs...)
	})
	return n.shutdownErr
}
