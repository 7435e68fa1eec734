package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/snapsync/snapsync/repo"
	"github.com/snapsync/snapsync/verify"
)

// errDamaged is verify's error when it found damage; the damage itself is
// on stdout.
var errDamaged = errors.New("repository damaged")

func newVerifyCommand(g *globals) *cobra.Command {
	var snapshot string
	var key keyFlag
	cmd := &cobra.Command{
		Use:   "verify REPO [--snapshot ID]",
		Short: "Re-read and re-hash every chunk of a repository's snapshots",
		Long: `verify reads every chunk of every snapshot of REPO (or of the one --snapshot), once
each, and checks it against its digest. It exits non-zero if any snapshot cannot be
restored whole, naming each damaged snapshot and each missing or damaged chunk, or if
anything among the snapshot objects is no snapshot (a name that does not parse, a symlink,
a FIFO), naming each.
REPO is ` + repoHelp + `.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runVerify(cmd.Context(), g, args[0], snapshot, key)
		},
	}
	cmd.Flags().StringVar(&snapshot, "snapshot", "", "verify only this snapshot ID (default: all)")
	key.add(cmd.Flags(), "key-file", keyFileHelp)
	return cmd
}

func runVerify(ctx context.Context, g *globals, location, snapshot string, key keyFlag) error {
	id, err := parseSnapshot(snapshot)
	if err != nil {
		return err
	}
	r, err := openRepo(ctx, location, key)
	if err != nil {
		return err
	}
	rep, err := r.Verify(ctx, id)
	if err != nil {
		return err
	}
	if err := printDamage(g.stdout, rep); err != nil {
		return err
	}
	switch {
	case len(rep.Problems) > 0:
		return fmt.Errorf("%w: %d of %d snapshots; what is no snapshot: %s", errDamaged, len(rep.Damaged), rep.Snapshots, repo.Summary(rep.Problems))
	case !rep.OK():
		return fmt.Errorf("%w: %d of %d snapshots", errDamaged, len(rep.Damaged), rep.Snapshots)
	}
	_, err = fmt.Fprintf(g.stdout, "ok: %d snapshots, %d chunks, %s verified\n", rep.Snapshots, rep.Chunks, humanize.IBytes(uint64(rep.Bytes)))
	return err
}

// printDamage names every entry that is no snapshot, then every damaged
// snapshot and its chunks, one a line.
func printDamage(w io.Writer, rep *repo.Report) error {
	for _, p := range rep.Problems {
		if _, err := fmt.Fprintf(w, "problem %s: %s\n", p.Key, p.Reason); err != nil {
			return err
		}
	}
	for _, d := range rep.Damaged {
		if d.Manifest != nil {
			if _, err := fmt.Fprintf(w, "damaged snapshot %s: manifest: %v\n", d.ID, d.Manifest); err != nil {
				return err
			}
			continue
		}
		if _, err := fmt.Fprintf(w, "damaged snapshot %s: %d chunks\n", d.ID, len(d.Chunks)); err != nil {
			return err
		}
		for _, c := range slices.SortedFunc(maps.Keys(d.Chunks), func(a, b verify.Digest) int { return compareDigest(a, b) }) {
			if _, err := fmt.Fprintf(w, "  chunk %s: %v\n", c, d.Chunks[c]); err != nil {
				return err
			}
		}
	}
	return nil
}

func compareDigest(a, b verify.Digest) int {
	for i := range a {
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return 0
}
