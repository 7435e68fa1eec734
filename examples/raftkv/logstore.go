package raftkv

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
	"github.com/rs/zerolog"
)

// Key layout of the log store: entries under logPrefix by big-endian index,
// Raft's stable values (current term, last vote) under stablePrefix.
const (
	logPrefix    = 'l'
	stablePrefix = 's'
)

// errKeyNotFound is what the stable store returns for a key it does not
// hold. Raft tells it apart by its text, which must be exactly "not found"
// (as raft-boltdb's and Raft's own InmemStore's are), hence no package prefix.
var errKeyNotFound = errors.New("not found")

// logStore keeps Raft's log and stable state in a Pebble DB of their own,
// beside the state machine's: an install swaps the state machine's DB, never
// the log. Every write is synced, as Raft requires: a node must not forget
// an entry it acknowledged or a vote it cast.
type logStore struct {
	db *pebble.DB
}

var (
	_ raft.LogStore    = (*logStore)(nil)
	_ raft.StableStore = (*logStore)(nil)
)

// openLogStore opens (or creates) the log store at dir.
func openLogStore(dir string, log zerolog.Logger) (*logStore, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{log: log}})
	if err != nil {
		return nil, fmt.Errorf("open raft log %s: %w", dir, err)
	}
	return &logStore{db: db}, nil
}

// FirstIndex returns the lowest index in the log; 0 when it is empty.
func (s *logStore) FirstIndex() (uint64, error) { return s.edge(true) }

// LastIndex returns the highest index in the log; 0 when it is empty.
func (s *logStore) LastIndex() (uint64, error) { return s.edge(false) }

// edge returns the first or last index in the log.
func (s *logStore) edge(first bool) (_ uint64, err error) {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{logPrefix}, UpperBound: []byte{logPrefix + 1},
	})
	if err != nil {
		return 0, fmt.Errorf("raft log iter: %w", err)
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	var ok bool
	if first {
		ok = it.First()
	} else {
		ok = it.Last()
	}
	if !ok {
		return 0, it.Error()
	}
	if len(it.Key()) != 9 {
		return 0, fmt.Errorf("%w: raft log key of %d bytes", ErrCorrupt, len(it.Key()))
	}
	return binary.BigEndian.Uint64(it.Key()[1:]), nil
}

// GetLog reads the entry at index into l, or returns raft.ErrLogNotFound.
func (s *logStore) GetLog(index uint64, l *raft.Log) error {
	v, closer, err := s.db.Get(logKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("get raft log %d: %w", index, err)
	}
	defer closer.Close() //nolint:errcheck // Close only releases the value.
	return decodeLog(index, v, l)
}

// StoreLog appends one entry.
func (s *logStore) StoreLog(l *raft.Log) error { return s.StoreLogs([]*raft.Log{l}) }

// StoreLogs appends entries in one synced batch.
func (s *logStore) StoreLogs(logs []*raft.Log) error {
	b := s.db.NewBatch()
	defer b.Close() //nolint:errcheck // Close after Commit only recycles the batch.
	for _, l := range logs {
		if err := b.Set(logKey(l.Index), encodeLog(l), nil); err != nil {
			return fmt.Errorf("set raft log %d: %w", l.Index, err)
		}
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("store %d raft logs: %w", len(logs), err)
	}
	return nil
}

// DeleteRange removes the entries from lo to hi, both included.
func (s *logStore) DeleteRange(lo, hi uint64) error {
	if lo > hi {
		return nil
	}
	end := append(logKey(hi), 0) // sorts just after logKey(hi)
	if err := s.db.DeleteRange(logKey(lo), end, pebble.Sync); err != nil {
		return fmt.Errorf("delete raft logs %d-%d: %w", lo, hi, err)
	}
	return nil
}

// Set stores a stable value.
func (s *logStore) Set(key, val []byte) error {
	if err := s.db.Set(stableKey(key), val, pebble.Sync); err != nil {
		return fmt.Errorf("set %q: %w", key, err)
	}
	return nil
}

// Get returns a stable value, or errKeyNotFound.
func (s *logStore) Get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(stableKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, errKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get %q: %w", key, err)
	}
	out := append([]byte(nil), v...)
	return out, closer.Close()
}

// SetUint64 stores a stable integer.
func (s *logStore) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns a stable integer, or errKeyNotFound.
func (s *logStore) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, fmt.Errorf("%w: %q holds %d bytes, want 8", ErrCorrupt, key, len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// close closes the DB.
func (s *logStore) close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close raft log: %w", err)
	}
	return nil
}

// logKey returns the key of the entry at index.
func logKey(index uint64) []byte {
	return binary.BigEndian.AppendUint64([]byte{logPrefix}, index)
}

// stableKey returns the key of a stable value.
func stableKey(key []byte) []byte {
	return append([]byte{stablePrefix}, key...)
}
