package sampledb

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"

	"github.com/cockroachdb/pebble/v2"
)

// Fill describes a batch of writes.
type Fill struct {
	// Seed makes the data deterministic; different seeds give different keys.
	Seed uint64
	// Bytes is roughly how many bytes of values to write.
	Bytes int64
	// ValueSize is each value's length; default 1000.
	ValueSize int
}

// Write puts f.Bytes of values into db in batches and flushes, so the data is
// in SSTs as a settled DB's would be. It returns the number of keys written.
func Write(ctx context.Context, db *pebble.DB, f Fill) (int, error) {
	if f.ValueSize <= 0 {
		f.ValueSize = 1000
	}
	rng := rand.New(rand.NewPCG(f.Seed, f.Seed^0x9e3779b97f4a7c15))
	n := int(f.Bytes / int64(f.ValueSize))
	batch := db.NewBatch()
	for i := 0; i < n; i++ {
		if i%1000 == 0 {
			if err := ctx.Err(); err != nil {
				return i, context.Cause(ctx)
			}
		}
		if err := batch.Set(Key(f.Seed, i), value(rng, f.ValueSize), nil); err != nil {
			return i, fmt.Errorf("set: %w", err)
		}
		if batch.Len() >= 4<<20 {
			if err := batch.Commit(pebble.NoSync); err != nil {
				return i, fmt.Errorf("commit: %w", err)
			}
			batch = db.NewBatch()
		}
	}
	if err := batch.Commit(pebble.Sync); err != nil {
		return n, fmt.Errorf("commit: %w", err)
	}
	if err := db.Flush(); err != nil {
		return n, fmt.Errorf("flush: %w", err)
	}
	return n, nil
}

// Key returns the i-th key of a fill with the given seed.
func Key(seed uint64, i int) []byte {
	k := make([]byte, 0, 24)
	k = append(k, "key-"...)
	k = binary.BigEndian.AppendUint64(k, seed)
	return binary.BigEndian.AppendUint64(k, uint64(i)*2654435761%(1<<40))
}

// value is half random bytes, half a repeated pattern: it compresses about
// 2:1, like real metadata.
func value(rng *rand.Rand, size int) []byte {
	v := make([]byte, size)
	half := size / 2
	for i := 0; i < half; i += 8 {
		binary.LittleEndian.PutUint64(v[i:min(i+8, size)], rng.Uint64())
	}
	copy(v[half:], bytes.Repeat([]byte("ozone-om-metadata/"), size/18+1))
	return v
}

// ErrDiffer is returned by Compare when the databases hold different data.
var ErrDiffer = errors.New("sampledb: databases differ")

// Compare walks both databases in key order and returns the number of keys
// if every key and value is equal.
func Compare(ctx context.Context, a, b *pebble.DB) (int, error) {
	ia, err := a.NewIterWithContext(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer ia.Close()
	ib, err := b.NewIterWithContext(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer ib.Close()
	n := 0
	va, vb := ia.First(), ib.First()
	for ; va && vb; va, vb = ia.Next(), ib.Next() {
		if !bytes.Equal(ia.Key(), ib.Key()) || !bytes.Equal(ia.Value(), ib.Value()) {
			return n, fmt.Errorf("%w at key %x", ErrDiffer, ia.Key())
		}
		n++
	}
	if va != vb {
		return n, fmt.Errorf("%w: one has more keys after %d", ErrDiffer, n)
	}
	return n, errors.Join(ia.Error(), ib.Error())
}
