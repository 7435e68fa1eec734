package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/spf13/cobra"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/repo"
)

// newRepoCommand is `snapsync repo`: the keys of encrypted repositories.
func newRepoCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "repo",
		Short: "Manage the keys of encrypted backup repositories",
		Long: `repo keygen writes a new key file; repo rotate-key makes another key file the key of an
encrypted repository. A backup with --key-file that creates a repository encrypts it.`,
		Args: cobra.NoArgs,
	}
	cmd.AddCommand(newKeygenCommand(g), newRotateKeyCommand(g))
	return cmd
}

func newKeygenCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "keygen FILE",
		Short: "Write a new random repository key to FILE (mode 0600)",
		Long: `keygen writes 32 random bytes as 64 hexadecimal digits to FILE, mode 0600, fsynced. It
refuses to overwrite a file: a repository's key lost is its snapshots lost. Keep a copy of
the key file away from the repository (a secret store): nothing else opens it.`,
		Example: `  snapsync repo keygen /etc/snapsync/backup.key
  snapsync backup --from pebble:/var/lib/app/db --to s3://backups/app --key-file /etc/snapsync/backup.key`,
		Args: cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error { return runKeygen(g, args[0]) },
	}
}

func runKeygen(g *globals, path string) error {
	if _, err := os.Lstat(path); !errors.Is(err, fs.ErrNotExist) {
		if err == nil {
			err = fs.ErrExist
		}
		return fmt.Errorf("keygen %s: %w: a key file is never overwritten", path, err)
	}
	_, data, err := repo.GenerateKey()
	if err != nil {
		return err
	}
	defer clear(data)
	if err := durable.WriteFile(durable.OS(), path, data, 0o600); err != nil {
		return fmt.Errorf("keygen: %w", err)
	}
	_, err = fmt.Fprintf(g.stdout, "wrote a new repository key to %s (mode 0600): keep a copy away from the repository\n", path)
	return err
}

func newRotateKeyCommand(g *globals) *cobra.Command {
	var key, newKey keyFlag
	cmd := &cobra.Command{
		Use:   "rotate-key REPO --key-file OLD --new-key-file NEW",
		Short: "Make NEW the key of an encrypted repository, in place of OLD",
		Long: `rotate-key seals the repository's master key under the key in NEW, in place of OLD's
keyslot, with one rewrite of the config object: no pack, index or manifest is read or
rewritten, so it takes the same time for any size of repository. From then on OLD is
refused ("wrong key"). Run one rotation at a time.
A key that leaked is not revoked by a rotation: whoever holds OLD and a copy of the old
config object (anyone who could read the repository then) can still open the master key.
Back up into a new repository with a new key to be rid of it.
REPO is ` + repoHelp + `.`,
		Example: `  snapsync repo keygen /etc/snapsync/backup.key.new
  snapsync repo rotate-key s3://backups/om --key-file /etc/snapsync/backup.key --new-key-file /etc/snapsync/backup.key.new`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runRotateKey(cmd.Context(), g, args[0], key, newKey)
		},
	}
	key.add(cmd.Flags(), "key-file", "the repository's key file now (required)")
	newKey.add(cmd.Flags(), "new-key-file", "the key file to make its key (required; make one with snapsync repo keygen)")
	for _, name := range []string{"key-file", "new-key-file"} {
		if err := cmd.MarkFlagRequired(name); err != nil {
			panic(err) // a programming error: the flag is defined just above
		}
	}
	return cmd
}

func runRotateKey(ctx context.Context, g *globals, location string, key, newKey keyFlag) error {
	k, err := newKey.load()
	if err != nil {
		return err
	}
	r, err := openRepo(ctx, location, key)
	if err != nil {
		return err
	}
	if err := r.RotateKey(ctx, k); err != nil {
		return fmt.Errorf("repository %s: %w", location, err)
	}
	_, err = fmt.Fprintf(g.stdout, "rotated the key of %s: --new-key-file opens it now, --key-file no longer does\n", location)
	return err
}
