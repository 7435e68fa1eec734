package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/snapsync/snapsync/client"
)

// keptFlags are the flags of rollback and finalize: the destination and,
// when install was given one, its staging area.
type keptFlags struct {
	dest    string
	staging string
	json    bool
}

func (f *keptFlags) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.dest, "dest", "", "the database directory (or, for an install with --replace, the directory holding the entries) (required)")
	fl.StringVar(&f.staging, "staging-dir", "", "the --staging-dir the install was given, if any")
	fl.BoolVar(&f.json, "json", false, "print the result as one JSON object")
	if err := cmd.MarkFlagRequired("dest"); err != nil {
		panic(err) // a programming error: the flag is defined just above
	}
}

// config is the client configuration of rollback and finalize.
func (f *keptFlags) config(g *globals) (client.Config, error) {
	log, err := g.logger()
	if err != nil {
		return client.Config{}, err
	}
	return client.Config{Dest: f.dest, StagingDir: f.staging, Logger: log, Hook: crashHook()}, nil
}

func newRollbackCommand(g *globals) *cobra.Command {
	f := &keptFlags{}
	cmd := &cobra.Command{
		Use:   "rollback --dest DIR",
		Short: "Put back the DB that an install with --keep-old replaced",
		Long: `rollback undoes the last install (or local Commit) into DIR that kept the replaced DB
(install --keep-old, restore --keep-old, CommitRequest.keep_old): the kept DB (or, for an
install with --replace, the kept entries) goes back into place in one journaled, atomic
swap, and the installed one is deleted. Stop whatever uses the DB first. A rollback cut
short by a crash is finished by running it again. With nothing kept it fails (NO_ROLLBACK).`,
		Example: `  snapsync install --from http://leader:7600 --dest /var/lib/app/db --keep-old
  snapsync rollback --dest /var/lib/app/db     # the new DB did not work out
  snapsync finalize --dest /var/lib/app/db     # or: it did, delete the old one`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := f.config(g)
			if err != nil {
				return err
			}
			res, err := client.Rollback(cmd.Context(), cfg)
			if err != nil {
				return fmt.Errorf("rollback %s: %w", f.dest, err)
			}
			if f.json {
				return json.NewEncoder(g.stdout).Encode(struct {
					RolledBack installOutput `json:"rolled_back"`
				}{newInstallOutput(res)})
			}
			_, err = fmt.Fprintf(g.stdout, "rolled back %s: removed snapshot %s (term %d, index %d); the kept DB is in place\n",
				f.dest, res.SnapshotID.Short(), res.Term, res.Index)
			return err
		},
	}
	f.add(cmd)
	return cmd
}
