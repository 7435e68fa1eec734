// Package testdb holds test checks on Pebble databases.
package testdb

import (
	"context"
	"testing"

	"github.com/cockroachdb/pebble/v2"

	"github.com/snapsync/snapsync/internal/sampledb"
)

// CheckSameDB reopens dir read-only with Pebble, as a node would after an
// install, and fails tb unless it holds exactly want's keys and values, and
// at least one.
func CheckSameDB(tb testing.TB, want *pebble.DB, dir string) {
	tb.Helper()
	db, err := pebble.Open(dir, &pebble.Options{ReadOnly: true, Logger: sampledb.QuietLogger{}})
	if err != nil {
		tb.Fatalf("open installed db: %v", err)
	}
	defer db.Close()
	n, err := sampledb.Compare(context.Background(), want, db)
	if err != nil {
		tb.Fatalf("installed db differs after %d keys: %v", n, err)
	}
	if n == 0 {
		tb.Fatal("installed db is empty")
	}
}
