package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	execsource "github.com/snapsync/snapsync/source/exec"
)

// globals are the flags every command shares.
type globals struct {
	logLevel   string
	logFormat  string
	cpuProfile string
	memProfile string
	profile    *os.File
	stdout     io.Writer
	stderr     io.Writer
}

func newRootCommand(stdout, stderr io.Writer) *cobra.Command {
	g := &globals{stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "snapsync",
		Short: "Move verified database checkpoints between the nodes of a replicated service",
		Long: `snapsync serves consistent RocksDB/Pebble checkpoints as resumable, compressed,
SHA-256-verified chunk streams, and installs them on a follower with an atomic swap.

Every flag can also be set from the environment: --lease-ttl is SNAPSYNC_LEASE_TTL.
SNAPSYNC_CMD_* is reserved for the checkpoint command's input and sets no flag.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd.Flags()); err != nil {
				return err
			}
			return g.startProfile()
		},
		PersistentPostRun: func(*cobra.Command, []string) { g.stopProfile() },
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.PersistentFlags().StringVar(&g.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.PersistentFlags().StringVar(&g.logFormat, "log-format", "auto", "log format: auto (console on a terminal, else JSON), console, json")
	root.PersistentFlags().StringVar(&g.cpuProfile, "cpu-profile", "", "write a Go CPU profile here (for performance work)")
	root.PersistentFlags().StringVar(&g.memProfile, "mem-profile", "", "write a Go heap profile (allocations and what is live) here on exit (for performance work)")
	for _, name := range []string{"cpu-profile", "mem-profile"} {
		if err := root.PersistentFlags().MarkHidden(name); err != nil {
			panic(err) // a programming error: the flags are defined just above
		}
	}
	root.AddCommand(newServeCommand(g), newInstallCommand(g), newDemoCommand(g), newVersionCommand(g),
		newBackupCommand(g), newRestoreCommand(g), newVerifyCommand(g), newListCommand(g), newPruneCommand(g),
		newRollbackCommand(g), newFinalizeCommand(g), newRepoCommand(g))
	return root
}

// bindEnv sets every flag not given on the command line from its
// environment variable (envName). Variables under execsource.EnvPrefix are
// the checkpoint command's and are never read as flags.
func bindEnv(fs *pflag.FlagSet) error {
	var errs []string
	fs.VisitAll(func(f *pflag.Flag) {
		name := envName(f.Name)
		if reservedEnv(name) {
			return
		}
		v, ok := os.LookupEnv(name)
		if !ok || f.Changed {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, err))
		}
	})
	if len(errs) > 0 {
		return fmt.Errorf("environment: %s", strings.Join(errs, "; "))
	}
	return nil
}

// envName is the environment variable of flag --NAME: SNAPSYNC_NAME in upper
// case, dashes as underscores.
func envName(flag string) string {
	return "SNAPSYNC_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// reservedEnv reports whether name is in the namespace the sidecar sets for
// its checkpoint command, which no flag may take.
func reservedEnv(name string) bool { return strings.HasPrefix(name, execsource.EnvPrefix) }
