// Command raftkv runs one node of the raftkv example: a replicated key-value
// store on hashicorp/raft and Pebble whose snapshots install through a
// snapsync sidecar. See examples/raftkv/README.md for a 3-node walkthrough.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/snapsync/snapsync/examples/raftkv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		os.Exit(2)
	case err != nil:
		fmt.Fprintln(os.Stderr, "raftkv:", err)
		os.Exit(1)
	}
}

// errUsage reports bad flags; the flag package has printed why.
var errUsage = errors.New("raftkv: usage")

// options are the command's flags.
type options struct {
	httpAddr, httpAddrFile, join, logLevel, tokenFile string
	cfg                                               raftkv.Config
}

// parse reads the flags into options.
func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("raftkv", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.cfg.ID, "id", "", "this node's Raft server ID (required)")
	fs.StringVar(&o.cfg.RaftAddr, "raft-addr", "127.0.0.1:7000", "Raft transport address (advertised as is: not 0.0.0.0)")
	fs.StringVar(&o.httpAddr, "http-addr", "127.0.0.1:8000", "address of the HTTP API (GET/PUT /kv/KEY, POST /join, POST /snapshot, GET /status)")
	fs.StringVar(&o.httpAddrFile, "http-addr-file", "", "write the HTTP API's host:port here once listening")
	fs.StringVar(&o.cfg.DataDir, "data", "", "data directory: db/, raft/, checkpoints/ (required)")
	fs.StringVar(&o.cfg.CheckpointDir, "checkpoints", "", "where snapshots make checkpoints: the sidecar's registry root (default DATA/checkpoints)")
	fs.StringVar(&o.join, "join", "", "HTTP URL of the leader to join, e.g. http://127.0.0.1:8000 (default: bootstrap a new cluster)")
	fs.StringVar(&o.cfg.SidecarPeerURL, "sidecar-peer", "", "peer-facing URL of this node's sidecar, put in snapshot pointers (required)")
	fs.StringVar(&o.cfg.SidecarLocalURL, "sidecar-local", "", "URL of this node's sidecar's local API (required)")
	fs.StringVar(&o.tokenFile, "sidecar-token-file", "", "file holding the token of the sidecar's local API (its --local-token-file)")
	fs.Uint64Var(&o.cfg.SnapshotThreshold, "snapshot-threshold", raftkv.DefaultSnapshotThreshold, "log entries between snapshots")
	fs.DurationVar(&o.cfg.SnapshotInterval, "snapshot-interval", raftkv.DefaultSnapshotInterval, "how often Raft checks the threshold")
	fs.Uint64Var(&o.cfg.TrailingLogs, "trailing-logs", raftkv.DefaultTrailingLogs, "log entries kept after a snapshot")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil, err
		}
		return nil, errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %q\n", fs.Args())
		return nil, errUsage
	}
	o.cfg.Bootstrap = o.join == ""
	if o.tokenFile != "" {
		b, err := os.ReadFile(o.tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "--sidecar-token-file: %v\n", err)
			return nil, errUsage
		}
		o.cfg.SidecarToken = strings.TrimSpace(string(b))
	}
	return o, nil
}

// run starts the node and its HTTP API and serves until ctx ends.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (err error) {
	o, err := parse(args, stderr)
	if err != nil {
		return err
	}
	level, err := zerolog.ParseLevel(o.logLevel)
	if err != nil {
		return fmt.Errorf("--log-level: %w", err)
	}
	out := zerolog.ConsoleWriter{Out: stderr, TimeFormat: time.TimeOnly, NoColor: !isTerminal(stderr)}
	log := zerolog.New(out).Level(level).With().Timestamp().Str("node", o.cfg.ID).Logger()
	o.cfg.Logger = log
	node, err := raftkv.Start(ctx, o.cfg)
	if err != nil {
		return err
	}
	defer func() { err = errors.Join(err, node.Shutdown()) }()
	ln, err := net.Listen("tcp", o.httpAddr)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if o.httpAddrFile != "" {
		if err := writeFileAtomic(o.httpAddrFile, ln.Addr().String()); err != nil {
			return errors.Join(err, ln.Close())
		}
	}
	fmt.Fprintf(stdout, "raftkv %s: raft %s, http http://%s\n", o.cfg.ID, node.RaftAddr(), ln.Addr())
	if o.join != "" {
		go joinLoop(ctx, log, o.join, node.ID(), node.RaftAddr())
	}
	return serve(ctx, ln, newAPI(node, log))
}

// serve serves h on ln until ctx ends, then shuts the server down.
func serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve http: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down http: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve http: %w", err)
	}
	return nil
}

// isTerminal reports whether w is a terminal, where the log has colors.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}

// writeFileAtomic writes s to path through a temporary file and a rename,
// so a reader never sees a partial address.
func writeFileAtomic(path, s string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(s), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("rename %s: %w", tmp, err)
	}
	return nil
}
