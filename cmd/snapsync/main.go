// Command snapsync moves consistent database checkpoints between the nodes of
// a replicated service: `serve` next to a leader's DB, `install` on a follower.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/snapsync/snapsync/reason"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "snapsync: %v%s\n", err, reasonSuffix(err))
		os.Exit(1)
	}
}

// reasonSuffix names the reason (package reason) err carries, if any, so a
// script can tell e.g. CHECKPOINT_TIMEOUT from NO_CHECKPOINT_MAKER.
func reasonSuffix(err error) string {
	if r, _, ok := reason.Of(err); ok {
		return " (reason " + r + ")"
	}
	return ""
}

// run executes one command line; output goes to the given writers so tests
// can capture it.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := newRootCommand(stdout, stderr)
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}
