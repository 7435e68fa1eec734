package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/snapsync/snapsync/client"
)

func newFinalizeCommand(g *globals) *cobra.Command {
	f := &keptFlags{}
	cmd := &cobra.Command{
		Use:   "finalize --dest DIR",
		Short: "Delete the DB that an install with --keep-old kept",
		Long: `finalize confirms the last install (or local Commit) into DIR that kept the replaced DB:
the kept DB is deleted and the installed one stays. Nothing kept is no error (it prints
so), so running it twice is safe.`,
		Example: `  snapsync finalize --dest /var/lib/app/db`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(g)
			if err != nil {
				return err
			}
			done, err := client.Finalize(cmd.Context(), cfg)
			if err != nil {
				return fmt.Errorf("finalize %s: %w", f.dest, err)
			}
			if f.json {
				return json.NewEncoder(g.stdout).Encode(struct {
					Finalized bool `json:"finalized"`
				}{done})
			}
			msg := "finalized %s: the kept DB is deleted\n"
			if !done {
				msg = "finalize %s: nothing was kept\n"
			}
			_, err = fmt.Fprintf(g.stdout, msg, f.dest)
			return err
		},
	}
	f.add(cmd)
	return cmd
}
