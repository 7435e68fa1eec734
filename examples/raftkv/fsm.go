package raftkv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// fsm is the Raft state machine: a Pebble DB that records, in the same batch
// as each command, the Raft term and index it reflects. Raft calls Apply,
// Snapshot and Restore from one goroutine; Get and Scan come from others.
type fsm struct {
	log     zerolog.Logger
	ctx     context.Context // the node's lifetime; Shutdown cancels it
	dbDir   string
	ckptDir string
	peerURL string
	sidecar sidecar

	installTimeout time.Duration
	onRequest      bool // Snapshot makes no checkpoint: see Config.CheckpointOnRequest

	mu sync.RWMutex // guards st: an install closes and reopens the DB
	st *store       // nil only when an install could not reopen the DB

	term, index atomic.Uint64 // what st reflects
	registered  atomic.Uint64 // the highest index registered with the sidecar since Start
	requested   atomic.Uint64 // checkpoints made on the sidecar's request

	reportMu sync.Mutex
	report   *InstallReport // the last committed install, if any
}

var _ raft.FSM = (*fsm)(nil)

// newFSM wraps st, reading the term and index it reflects.
func newFSM(ctx context.Context, cfg *Config, st *store, sc sidecar) (*fsm, error) {
	term, index, err := st.applied()
	if err != nil {
		return nil, err
	}
	f := &fsm{
		log: cfg.Logger, ctx: ctx, dbDir: dbDir(cfg.DataDir), ckptDir: cfg.CheckpointDir,
		peerURL: cfg.SidecarPeerURL, sidecar: sc, installTimeout: cfg.InstallTimeout, st: st,
		onRequest: cfg.CheckpointOnRequest,
	}
	f.term.Store(term)
	f.index.Store(index)
	return f, nil
}

// Apply writes a command and its index in one batch. An entry at or below the
// index the DB already reflects is skipped, so replaying a log over a DB that
// is ahead of it (after a restart, or after an install of a newer checkpoint
// than the pointer asked for) is harmless.
func (f *fsm) Apply(l *raft.Log) any {
	if l.Type != raft.LogCommand || l.Index <= f.index.Load() {
		return nil
	}
	c, cmdErr := decodeCommand(l.Data)
	if cmdErr != nil {
		c = command{} // still record the index: every node refuses it alike
	}
	f.mu.RLock()
	err := ErrClosed
	if f.st != nil {
		err = f.st.put(c.Key, c.Value, l.Term, l.Index)
	}
	f.mu.RUnlock()
	if err != nil {
		f.log.Error().Err(err).Uint64("index", l.Index).Msg("apply")
		return fmt.Errorf("apply index %d: %w", l.Index, err)
	}
	f.term.Store(l.Term)
	f.index.Store(l.Index)
	return cmdErr
}

// Snapshot makes a Pebble checkpoint in a fresh directory; the returned
// snapshot registers it with the sidecar and persists only a pointer to it.
// Raft calls Snapshot between Applies, so the checkpoint reflects exactly the
// recorded index. With nothing applied, or nothing since the last checkpoint
// the sidecar took (it refuses an index not beyond its newest), the snapshot
// is the pointer alone.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	term, index := f.term.Load(), f.index.Load()
	snap := &pointerSnapshot{f: f, ptr: Pointer{SidecarURL: f.peerURL, Term: term, Index: index}}
	if index == 0 || index <= f.registered.Load() || f.onRequest {
		return snap, nil
	}
	dir, err := f.checkpoint(index)
	if err != nil {
		return nil, err
	}
	snap.dir = dir
	f.log.Info().Uint64("term", term).Uint64("index", index).Str("dir", dir).Msg("checkpoint made")
	return snap, nil
}

// checkpoint makes a Pebble checkpoint of the DB in a fresh directory named
// after index, shaped like the node's data directory: the DB is its entry
// "db", so a follower installs it with replace ["db"] and keeps the rest of
// its data directory (the Raft log, its checkpoints) as it is.
func (f *fsm) checkpoint(index uint64) (string, error) {
	dir := filepath.Join(f.ckptDir, fmt.Sprintf("%020d-%d", index, time.Now().UnixNano()))
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.st == nil {
		return "", ErrClosed
	}
	if err := os.Mkdir(dir, 0o750); err != nil {
		return "", fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	return dir, f.st.checkpoint(filepath.Join(dir, dbEntry))
}

// get reads key from the DB.
func (f *fsm) get(key []byte) ([]byte, error) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.st == nil {
		return nil, ErrClosed
	}
	return f.st.get(key)
}

// scan calls fn for every key and value in key order.
func (f *fsm) scan(fn func(key, value []byte) error) error {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.st == nil {
		return ErrClosed
	}
	return f.st.each(fn)
}

// close closes the DB; Raft must have stopped calling the FSM.
func (f *fsm) close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.st == nil {
		return nil
	}
	err := f.st.close()
	f.st = nil
	return err
}

// dbEntry names the DB in a node's data directory and in its checkpoints:
// the one entry an install replaces.
const dbEntry = "db"

// dbDir is where a node's Pebble DB lives.
func dbDir(dataDir string) string { return filepath.Join(dataDir, dbEntry) }
