package raftkv

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/rs/zerolog"
)

// Key layout: user keys live under dataPrefix; the reserved appliedKey sorts
// before all of them and holds the Raft term and index of the last command
// the DB reflects, written in the same batch as the command.
const dataPrefix = 'k'

// appliedKey is the reserved key of the applied term and index.
var appliedKey = []byte("\x00raftkv/applied")

// store is the Pebble DB of the state machine.
type store struct {
	db *pebble.DB
}

// openStore opens (or creates) the Pebble DB at dir.
func openStore(dir string, log zerolog.Logger) (*store, error) {
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{log: log}})
	if err != nil {
		return nil, fmt.Errorf("open pebble %s: %w", dir, err)
	}
	return &store{db: db}, nil
}

// put writes key=value (when key is not nil) and the applied term and index
// in one batch. It does not sync: a node that loses unsynced writes gets
// them again from the Raft log or a snapshot.
func (s *store) put(key, value []byte, term, index uint64) error {
	b := s.db.NewBatch()
	defer b.Close() //nolint:errcheck // Close after Commit only recycles the batch.
	if key != nil {
		if err := b.Set(dataKey(key), value, nil); err != nil {
			return fmt.Errorf("set: %w", err)
		}
	}
	if err := b.Set(appliedKey, encodeApplied(term, index), nil); err != nil {
		return fmt.Errorf("set applied: %w", err)
	}
	if err := b.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("commit index %d: %w", index, err)
	}
	return nil
}

// applied returns the term and index the DB reflects; zeros for a new DB.
func (s *store) applied() (term, index uint64, err error) {
	v, closer, err := s.db.Get(appliedKey)
	if errors.Is(err, pebble.ErrNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("get applied: %w", err)
	}
	defer closer.Close() //nolint:errcheck // Close only releases the value.
	if len(v) != 16 {
		return 0, 0, fmt.Errorf("applied index: %d bytes, want 16", len(v))
	}
	return binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]), nil
}

// get returns a copy of key's value, or ErrNotFound.
func (s *store) get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(dataKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("get: %w", err)
	}
	out := append([]byte(nil), v...)
	return out, closer.Close()
}

// each calls fn for every user key and value in key order; the slices are
// valid only during the call.
func (s *store) each(fn func(key, value []byte) error) (err error) {
	it, err := s.db.NewIter(&pebble.IterOptions{
		LowerBound: []byte{dataPrefix}, UpperBound: []byte{dataPrefix + 1},
	})
	if err != nil {
		return fmt.Errorf("new iter: %w", err)
	}
	defer func() { err = errors.Join(err, it.Close()) }()
	for it.First(); it.Valid(); it.Next() {
		if err := fn(it.Key()[1:], it.Value()); err != nil {
			return err
		}
	}
	return nil
}

// checkpoint makes a consistent checkpoint of the DB in dir, which must not
// exist.
func (s *store) checkpoint(dir string) error {
	if err := s.db.Checkpoint(dir, pebble.WithFlushedWAL()); err != nil {
		return fmt.Errorf("checkpoint %s: %w", dir, err)
	}
	return nil
}

// close closes the DB.
func (s *store) close() error {
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close pebble: %w", err)
	}
	return nil
}

// dataKey returns key under dataPrefix.
func dataKey(key []byte) []byte {
	return append([]byte{dataPrefix}, key...)
}

// encodeApplied returns the value of appliedKey.
func encodeApplied(term, index uint64) []byte {
	return binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, term), index)
}
