package sampledb

import (
	"context"
	"errors"
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

func open(tb testing.TB) *pebble.DB {
	tb.Helper()
	db, err := pebble.Open(tb.TempDir(), &pebble.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestWriteCompare(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	a, b := open(t), open(t)
	for _, db := range []*pebble.DB{a, b} {
		if n, err := Write(ctx, db, Fill{Seed: 1, Bytes: 1 << 20}); err != nil || n != 1048 {
			t.Fatalf("Write: %d keys, %v", n, err)
		}
	}
	if n, err := Compare(ctx, a, b); err != nil || n != 1048 {
		t.Fatalf("Compare equal: %d, %v", n, err)
	}
	if _, err := Write(ctx, b, Fill{Seed: 2, Bytes: 10 << 10}); err != nil {
		t.Fatal(err)
	}
	if _, err := Compare(ctx, a, b); !errors.Is(err, ErrDiffer) {
		t.Fatalf("Compare after extra writes: %v", err)
	}
}
