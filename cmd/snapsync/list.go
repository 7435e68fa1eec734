package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/snapsync/snapsync/repo"
)

func newListCommand(g *globals) *cobra.Command {
	var jsonOut bool
	cmd := &cobra.Command{
		Use:   "list REPO [--json]",
		Short: "List the snapshots of a backup repository, oldest first",
		Long:  `list prints the committed snapshots of REPO, oldest first. REPO is ` + repoHelp + `.`,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd.Context(), g, args[0], jsonOut)
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print one JSON array of snapshots")
	return cmd
}

// snapshotOutput is list's --json shape of one snapshot.
type snapshotOutput struct {
	SnapshotID string            `json:"snapshot_id"`
	Term       uint64            `json:"term"`
	Index      uint64            `json:"index"`
	Engine     string            `json:"engine"`
	Created    time.Time         `json:"created"`
	BackedUp   time.Time         `json:"backed_up"`
	Files      int               `json:"files"`
	Bytes      int64             `json:"bytes"`
	Chunks     int               `json:"chunks"`
	Labels     map[string]string `json:"labels,omitempty"`
}

func runList(ctx context.Context, g *globals, location string, jsonOut bool) error {
	r, err := openRepo(ctx, location)
	if err != nil {
		return err
	}
	all, err := r.List(ctx)
	if err != nil {
		return err
	}
	if jsonOut {
		out := make([]snapshotOutput, 0, len(all))
		for _, s := range all {
			out = append(out, snapshotOutput{SnapshotID: s.ID.String(), Term: s.Term, Index: s.Index, Engine: s.Engine,
				Created: s.Created, BackedUp: s.BackedUp, Files: s.Files, Bytes: s.Bytes, Chunks: s.Chunks, Labels: s.Labels})
		}
		return json.NewEncoder(g.stdout).Encode(out)
	}
	return printList(g, all)
}

func printList(g *globals, all []repo.SnapshotInfo) error {
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SNAPSHOT\tTERM\tINDEX\tENGINE\tCREATED\tFILES\tSIZE\tLABELS")
	for _, s := range all {
		var labels []string
		for _, k := range slices.Sorted(maps.Keys(s.Labels)) {
			labels = append(labels, k+"="+s.Labels[k])
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t%s\t%d\t%s\t%s\n", s.ID, s.Term, s.Index, s.Engine,
			s.Created.Format(time.RFC3339), s.Files, humanize.IBytes(uint64(s.Bytes)), strings.Join(labels, ","))
	}
	return tw.Flush()
}
