package swap_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/snapsync/snapsync/swap"
)

// Replace a DB directory with a staged one, then remove the old tree; an
// earlier interrupted replace is recovered first, as a follower does on start.
func ExampleReplace() {
	base, err := os.MkdirTemp("", "swap-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(base)
	dest := filepath.Join(base, "db")
	staging := filepath.Join(base, ".snapsync-db")
	staged := filepath.Join(staging, "stage")
	journal := filepath.Join(staging, "swap.journal")
	for _, d := range []struct{ dir, current string }{{dest, "old"}, {staged, "new"}} {
		if err := os.MkdirAll(d.dir, 0o755); err != nil {
			fmt.Println(err)
			return
		}
		if err := os.WriteFile(filepath.Join(d.dir, "CURRENT"), []byte(d.current), 0o644); err != nil {
			fmt.Println(err)
			return
		}
	}

	ctx := context.Background()
	outcome, err := swap.Recover(ctx, journal, swap.Options{})
	fmt.Println("recover:", outcome, err)
	if err := swap.SyncTree(ctx, staged); err != nil { // the files were fsynced when written
		fmt.Println(err)
		return
	}
	old, err := swap.Replace(ctx, dest, staged, journal, swap.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	current, _ := os.ReadFile(filepath.Join(dest, "CURRENT"))
	fmt.Println("dest holds:", string(current))
	fmt.Println("old tree at:", must(filepath.Rel(base, old)))
	fmt.Println("remove old:", swap.RemoveTree(ctx, old))
	// Output:
	// recover: nothing <nil>
	// dest holds: new
	// old tree at: .snapsync-db/stage
	// remove old: <nil>
}

func must(s string, err error) string {
	if err != nil {
		return err.Error()
	}
	return s
}
