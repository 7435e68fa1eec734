package swap

import (
	"context"
	"testing"

	"github.com/snapsync/snapsync/internal/durable"
)

// BenchmarkReplace measures one whole replace, fsyncs included, in each mode:
// each iteration swaps the two trees back (the old tree lands where the next
// replace takes its staged tree from). Swap is not a hot path: there are no
// bytes to count, only its latency next to the transfer.
func BenchmarkReplace(b *testing.B) {
	for _, bc := range []struct {
		name      string
		journaled bool
	}{{"exchange", false}, {"pair", true}} {
		b.Run(bc.name, func(b *testing.B) {
			l := newLayout(b)
			writeTree(b, l.dest, oldTree)
			writeTree(b, l.staged, newTree)
			ctx := context.Background()
			for b.Loop() {
				old, err := Replace(ctx, l.dest, l.staged, l.journal, Options{Journaled: bc.journaled})
				if err != nil {
					b.Fatal(err)
				}
				if old != l.staged {
					if err := durable.OS().Rename(old, l.staged); err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

// BenchmarkSyncTree measures fsyncing the directories of a small
// checkpoint-like tree (a root and nested snapshot directories).
func BenchmarkSyncTree(b *testing.B) {
	l := newLayout(b)
	writeTree(b, l.staged, newTree)
	ctx := context.Background()
	for b.Loop() {
		if err := SyncTree(ctx, l.staged); err != nil {
			b.Fatal(err)
		}
	}
}
