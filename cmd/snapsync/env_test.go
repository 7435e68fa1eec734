package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	execsource "github.com/snapsync/snapsync/source/exec"
)

// TestEnvBinding: a flag not on the command line is read from SNAPSYNC_NAME;
// the command line wins; a variable in the checkpoint command's namespace is
// never read, even by a flag whose name would map to it.
func TestEnvBinding(t *testing.T) {
	t.Setenv("SNAPSYNC_RATE_LIMIT", "10MiB")
	t.Setenv("SNAPSYNC_LEASE_TTL", "1m")
	t.Setenv(execsource.EnvMinIndex, "7")
	root := newRootCommand(io.Discard, io.Discard)
	serve, _, err := root.Find([]string{"serve"})
	if err != nil {
		t.Fatal(err)
	}
	if err := serve.Flags().Set("lease-ttl", "5m"); err != nil {
		t.Fatal(err)
	}
	if err := bindEnv(serve.Flags()); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"rate-limit": "10MiB", "lease-ttl": "5m0s"} {
		if got := serve.Flags().Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}

	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	idx := fs.Uint64("cmd-min-index", 0, "a flag in the reserved namespace")
	if err := bindEnv(fs); err != nil || *idx != 0 {
		t.Fatalf("a reserved variable set a flag: %d, %v", *idx, err)
	}
}

// TestNoFlagTakesAReservedVariable walks every command: no flag's variable
// may be the checkpoint command's (SNAPSYNC_CMD_*) or the crash hook's.
func TestNoFlagTakesAReservedVariable(t *testing.T) {
	t.Parallel()
	var walk func(cmd *cobra.Command)
	seen := 0
	walk = func(cmd *cobra.Command) {
		check := func(f *pflag.Flag) {
			seen++
			if name := envName(f.Name); reservedEnv(name) || name == "SNAPSYNC_CRASH_AT" ||
				name == execsource.EnvRoot || name == execsource.EnvMinIndex || !strings.HasPrefix(name, "SNAPSYNC_") {
				t.Errorf("%s --%s reads %s, a reserved variable", cmd.CommandPath(), f.Name, name)
			}
		}
		cmd.Flags().VisitAll(check)
		cmd.PersistentFlags().VisitAll(check)
		for _, sub := range cmd.Commands() {
			walk(sub)
		}
	}
	walk(newRootCommand(io.Discard, io.Discard))
	if seen < 20 {
		t.Fatalf("walked %d flags: the command tree is not what this test thinks", seen)
	}
}
