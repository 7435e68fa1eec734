package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/snapsync/snapsync/repo"
)

func newPruneCommand(g *globals) *cobra.Command {
	var keepLast int
	var keepWithin time.Duration
	var key keyFlag
	cmd := &cobra.Command{
		Use:   "prune REPO --keep-last N [--keep-within DURATION]",
		Short: "Drop old snapshots of a backup repository and delete what no kept one needs",
		Long: `prune keeps the N newest snapshots and every snapshot made within DURATION, drops
the others, and deletes every manifest and chunk no kept snapshot names (those an
interrupted backup left included). In a repository of packs (format 2) it deletes
the packs no kept snapshot uses and rewrites those more than a quarter unused, new
packs and index written before old ones are deleted. It holds the repository's
exclusive lock: beside a running backup or restore it fails (repo: locked) and
deletes nothing.
REPO is ` + repoHelp + `.`,
		Example: `  snapsync prune /backups/om --keep-last 7 --keep-within 720h`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runPrune(cmd.Context(), g, args[0], keepLast, keepWithin, key)
		},
	}
	cmd.Flags().IntVar(&keepLast, "keep-last", 0, "keep the N newest snapshots")
	cmd.Flags().DurationVar(&keepWithin, "keep-within", 0, "keep every snapshot made within this long, e.g. 720h")
	key.add(cmd.Flags(), "key-file", keyFileHelp)
	return cmd
}

func runPrune(ctx context.Context, g *globals, location string, keepLast int, keepWithin time.Duration, key keyFlag) error {
	if keepLast <= 0 && keepWithin <= 0 {
		return fmt.Errorf("prune: give --keep-last N (N > 0) or --keep-within DURATION: keeping nothing is refused")
	}
	r, err := openRepo(ctx, location, key)
	if err != nil {
		return err
	}
	res, err := r.Prune(ctx, keepLast, keepWithin)
	if err != nil {
		return err
	}
	if err := warnProblems(g.stderr, res.Problems); err != nil {
		return err
	}
	_, err = fmt.Fprintf(g.stdout, "kept %d snapshots, dropped %d; deleted %d manifests and %d chunks\n",
		len(res.Kept), len(res.Dropped), res.Manifests, res.Chunks)
	if err == nil && r.Format() >= repo.Format2 {
		_, err = fmt.Fprintf(g.stdout, "packs: deleted %d, of which %d repacked (%d bytes copied into new packs)\n",
			res.Packs, res.Repacked, res.BytesRepacked)
	}
	return err
}
