package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/dustin/go-humanize"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/sampledb"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/source"
	pebblesource "github.com/snapsync/snapsync/source/pebble"
)

type demoFlags struct {
	dir  string
	size string
	keep bool
	json bool
}

func newDemoCommand(g *globals) *cobra.Command {
	f := &demoFlags{}
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Run the whole flow on a sample Pebble DB and print what happened",
		Long: `demo makes a sample Pebble DB (the leader's), serves it on 127.0.0.1, installs it
into a follower directory, checks every key and value, then writes 5% more data on the
leader and installs again to show that only the difference travels.
With --json the story goes to stderr and stdout holds the figures as one JSON object.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !cmd.Flags().Changed("log-level") {
				g.logLevel = "warn" // the demo tells its own story on stdout
			}
			return runDemo(cmd.Context(), g, f)
		},
	}
	cmd.Flags().StringVar(&f.dir, "dir", "", "where to put the leader and follower DBs (default: a temporary directory)")
	cmd.Flags().StringVar(&f.size, "size", "64MiB", "how much data the leader DB holds")
	cmd.Flags().BoolVar(&f.keep, "keep", false, "keep the directories afterwards")
	cmd.Flags().BoolVar(&f.json, "json", false, "print the figures of each step as one JSON object (the story goes to stderr)")
	return cmd
}

func runDemo(ctx context.Context, g *globals, f *demoFlags) (err error) {
	log, err := g.logger()
	if err != nil {
		return err
	}
	size, err := humanize.ParseBytes(f.size)
	if err != nil {
		return fmt.Errorf("--size: %w", err)
	}
	dir := f.dir
	if dir == "" {
		if dir, err = os.MkdirTemp("", "snapsync-demo-"); err != nil {
			return err
		}
		if !f.keep {
			defer os.RemoveAll(dir)
		}
	}
	d := &demo{out: g.stdout, log: log, dir: dir}
	if f.json {
		d.out = g.stderr
	}
	if err := d.run(ctx, int64(size)); err != nil {
		return err
	}
	if f.json {
		return json.NewEncoder(g.stdout).Encode(d.report)
	}
	return nil
}

type demo struct {
	out    io.Writer
	log    zerolog.Logger
	dir    string
	step   int
	report demoReport
}

// demoReport is the --json shape: the figures of each step, with stable
// field names, so that a test can check that each step did what it says.
type demoReport struct {
	Interrupted demoStop    `json:"interrupted"`
	Resumed     demoInstall `json:"resumed"`
	Incremental demoInstall `json:"incremental"`
}

// demoStop is where the interrupted install stopped.
type demoStop struct {
	Stopped      bool  `json:"stopped"` // false if it finished first
	BytesTotal   int64 `json:"bytes_total"`
	BytesStaged  int64 `json:"bytes_staged"` // verified and in place when stopped
	BytesFetched int64 `json:"bytes_fetched"`
}

// demoInstall is a finished install and the keys checked after it.
type demoInstall struct {
	installOutput
	KeysVerified int `json:"keys_verified"`
}

// say prints the next numbered step of the story.
func (d *demo) say(format string, args ...any) {
	d.step++
	fmt.Fprintf(d.out, "%d. "+format+"\n", append([]any{d.step}, args...)...)
}

// detail prints an indented line under the current step.
func (d *demo) detail(format string, args ...any) { fmt.Fprintf(d.out, "   "+format+"\n", args...) }

func (d *demo) run(ctx context.Context, size int64) error {
	leaderDir, followerDir := filepath.Join(d.dir, "leader", "db"), filepath.Join(d.dir, "follower", "db")
	src, err := pebblesource.Open(leaderDir, d.log)
	if err != nil {
		return err
	}
	defer src.Close()
	d.say("writing %s of sample data into the leader's Pebble DB at %s", humanize.IBytes(uint64(size)), leaderDir)
	if err := write(ctx, src.DB(), 1, size); err != nil {
		return err
	}
	url, stop, err := d.serve(ctx, src, filepath.Join(d.dir, "leader", "work"))
	if err != nil {
		return err
	}
	defer stop()
	d.say("serving it at %s (a checkpoint per install, chunked, zstd, SHA-256 per chunk)", url)
	if err := d.interrupted(ctx, url, followerDir); err != nil {
		return err
	}
	if err := d.install(ctx, url, followerDir, "resuming: install again into "+followerDir, &d.report.Resumed); err != nil {
		return err
	}
	if err := d.check(ctx, src.DB(), followerDir, &d.report.Resumed); err != nil {
		return err
	}
	d.say("writing 5%% more data on the leader")
	if err := write(ctx, src.DB(), 2, size/20); err != nil {
		return err
	}
	if err := d.install(ctx, url, followerDir, "incremental install into "+followerDir+" (only the difference travels)", &d.report.Incremental); err != nil {
		return err
	}
	return d.check(ctx, src.DB(), followerDir, &d.report.Incremental)
}

// write adds about size bytes of sample data under seed's keys, then
// compacts just that key range, as a DB at rest would be: background
// compactions would otherwise rewrite the files between one checkpoint and
// the next, and the story would be about compaction, not about snapsync.
func write(ctx context.Context, db *pebble.DB, seed uint64, size int64) error {
	if _, err := sampledb.Write(ctx, db, sampledb.Fill{Seed: seed, Bytes: size}); err != nil {
		return err
	}
	start, end := sampledb.Key(seed, 0)[:12], sampledb.Key(seed+1, 0)[:12] // "key-" + seed
	if err := db.Compact(ctx, start, end, true); err != nil {
		return fmt.Errorf("compact sample data: %w", err)
	}
	return nil
}

// interrupted starts an install and stops it half-way through its chunks, as
// a crash or a dropped link would: the follower's directory is left untouched.
// The stop is counted in chunks written, not timed, so it happens however fast
// the machine.
func (d *demo) interrupted(ctx context.Context, url, dest string) error {
	halfway := errors.New("the demo stopped the install half-way")
	stop := &halfwayHook{stagingDir: filepath.Join(filepath.Dir(dest), ".snapsync-"+filepath.Base(dest)), err: halfway}
	var last client.Progress // written by the one progress goroutine, which ends before Install returns
	cfg := client.Config{Dest: dest, Logger: d.log, Hook: stop.hook, Progress: func(p client.Progress) { last = p }}
	d.say("installing into %s, interrupted half-way", dest)
	_, err := client.Install(ctx, url, 0, cfg)
	d.report.Interrupted = demoStop{Stopped: err != nil, BytesTotal: last.BytesTotal, BytesStaged: last.BytesDone, BytesFetched: last.BytesFetched}
	switch {
	case err == nil:
		d.detail("the install finished before it could be interrupted")
		return nil
	case !errors.Is(err, halfway):
		return err
	}
	_, statErr := os.Stat(dest)
	d.detail("stopped with %s of %s staged (%s on the wire); %s exists: %v (the old DB, or none, until the atomic swap)",
		humanize.IBytes(uint64(last.BytesDone)), humanize.IBytes(uint64(last.BytesTotal)),
		humanize.IBytes(uint64(last.BytesFetched)), dest, statErr == nil)
	return nil
}

func (d *demo) serve(ctx context.Context, src source.Source, work string) (string, func(), error) {
	srv, err := server.New(ctx, server.Config{Source: src, WorkDir: work, ReuseWithin: time.Nanosecond, Logger: d.log})
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		return "", nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, srv.Handler()) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			d.log.Warn().Err(err).Msg("demo server stopped")
		}
		srv.Close()
	}
	return "http://" + ln.Addr().String(), stop, nil
}

func (d *demo) install(ctx context.Context, url, dest, title string, report *demoInstall) error {
	d.say("%s", title)
	res, err := client.Install(ctx, url, 0, client.Config{Dest: dest, Logger: d.log})
	if err != nil {
		return err
	}
	report.installOutput = newInstallOutput(res)
	var b strings.Builder
	if err := printSummary(&b, dest, res); err != nil {
		return err
	}
	for line := range strings.Lines(b.String()) {
		d.detail("%s", strings.TrimSpace(line))
	}
	return nil
}

func (d *demo) check(ctx context.Context, leader *pebble.DB, dest string, report *demoInstall) error {
	follower, err := pebble.Open(dest, &pebble.Options{Logger: pebblesource.Logger(d.log)})
	if err != nil {
		return fmt.Errorf("open installed DB: %w", err)
	}
	defer follower.Close()
	n, err := sampledb.Compare(ctx, leader, follower)
	if err != nil {
		return err
	}
	report.KeysVerified = n
	d.detail("verified: the follower opens with Pebble and all %d keys and values equal the leader's", n)
	return nil
}
