package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
	var key keyFlag
	cmd := &cobra.Command{
		Use:   "list REPO [--json]",
		Short: "List the snapshots of a backup repository, oldest first",
		Long: `list prints the committed snapshots of REPO, oldest first, and a warning (on stderr)
for each entry among the snapshot objects that is no snapshot: a name that does not parse,
a symlink, a FIFO, a device. --json prints {"snapshots": [...], "problems": [...]}.
REPO is ` + repoHelp + `.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runList(cmd.Context(), g, args[0], jsonOut, key)
		},
	}
	cmd.Flags().BoolVar(&jsonOut, "json", false, "print one JSON object: the snapshots, and the problems of the listing")
	key.add(cmd.Flags(), "key-file", keyFileHelp)
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

// listOutput is list's --json shape: the snapshots, and what the listing
// held that is no snapshot.
type listOutput struct {
	Snapshots []snapshotOutput `json:"snapshots"`
	Problems  []problemOutput  `json:"problems"`
}

// problemOutput is the --json shape of a repo.Problem.
type problemOutput struct {
	Key     string `json:"key"`
	Problem string `json:"problem"`
}

func runList(ctx context.Context, g *globals, location string, jsonOut bool, key keyFlag) error {
	r, err := openRepo(ctx, location, key)
	if err != nil {
		return err
	}
	l, err := r.List(ctx)
	if err != nil {
		return err
	}
	if jsonOut {
		out := listOutput{Snapshots: make([]snapshotOutput, 0, len(l.Snapshots)), Problems: problemsOutput(l.Problems)}
		for _, s := range l.Snapshots {
			out.Snapshots = append(out.Snapshots, snapshotOutput{SnapshotID: s.ID.String(), Term: s.Term, Index: s.Index, Engine: s.Engine,
				Created: s.Created, BackedUp: s.BackedUp, Files: s.Files, Bytes: s.Bytes, Chunks: s.Chunks, Labels: s.Labels})
		}
		return json.NewEncoder(g.stdout).Encode(out)
	}
	if err := warnProblems(g.stderr, l.Problems); err != nil {
		return err
	}
	return printList(g, l.Snapshots)
}

func problemsOutput(ps []repo.Problem) []problemOutput {
	out := make([]problemOutput, 0, len(ps))
	for _, p := range ps {
		out = append(out, problemOutput{Key: p.Key, Problem: p.Reason})
	}
	return out
}

// warnProblems writes a warning line for each entry of a listing that is
// none of the repository's objects.
func warnProblems(w io.Writer, ps []repo.Problem) error {
	for _, p := range ps {
		if _, err := fmt.Fprintf(w, "warning: %s: %s\n", p.Key, p.Reason); err != nil {
			return err
		}
	}
	return nil
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
