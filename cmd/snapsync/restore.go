package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/snapsync/snapsync/client"
)

// restoreFlags are install's, with a repository for the source. The fetch
// flags are install's own (fetchFlags); the rest mean what install's do.
type restoreFlags struct {
	from     string
	snapshot string
	dest     string
	staging  string
	json     bool
	streams  int
	keepOld  bool
	buffered bool
	replace  []string
	key      keyFlag
	chunks   chunkSourceFlags
	fetchFlags
}

func newRestoreCommand(g *globals) *cobra.Command {
	f := &restoreFlags{}
	cmd := &cobra.Command{
		Use:   "restore --from REPO [--snapshot ID|latest] --dest DIR [--json]",
		Short: "Install a snapshot from a backup repository, verified, with an atomic swap",
		Long: `restore is an install whose source is a repository: it serves the snapshot from
REPO on 127.0.0.1 inside this process and installs it into DIR exactly as install does
(staging beside DIR, every chunk verified, the atomic swap, resume, --replace). A damaged
chunk fails the restore with the chunk's digest and leaves DIR as it was.
REPO is ` + repoHelp + `.
While it runs, restore holds the repository's shared backup lock, so a prune waits.`,
		Example: `  snapsync restore --from /backups/om --dest /var/lib/app/db
  snapsync restore --from s3://backups/om --snapshot 3f2a...e1 --dest /data/meta --replace om.db,db.snapshots --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runRestore(cmd.Context(), g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "the repository: "+repoHelp+" (required)")
	fl.StringVar(&f.snapshot, "snapshot", "latest", "the snapshot ID to restore, or latest")
	fl.StringVar(&f.dest, "dest", "", "database directory to create or replace (required)")
	fl.StringVar(&f.staging, "staging-dir", "", "staging area, as install's (default: .snapsync-NAME beside --dest)")
	fl.BoolVar(&f.json, "json", false, "print the result as one JSON object, as install's")
	fl.IntVar(&f.streams, "streams", 4, "parallel chunk streams")
	fl.BoolVar(&f.keepOld, "keep-old", false, "keep the replaced database (or --replace entries) for snapsync rollback, until snapsync finalize deletes it")
	fl.BoolVar(&f.buffered, "buffered-writes", false, "write every chunk through the page cache (default: whole chunks bypass it with direct I/O where the filesystem allows)")
	fl.StringSliceVar(&f.replace, "replace", nil, "replace only these top-level entries of --dest, as one unit, as install's")
	f.key.add(fl, "key-file", keyFileHelp)
	f.chunks.add(fl, "", "REPO")
	f.fetchFlags.add(fl)
	for _, name := range []string{"from", "dest"} {
		if err := cmd.MarkFlagRequired(name); err != nil {
			panic(err) // a programming error: the flag is defined just above
		}
	}
	return cmd
}

func runRestore(ctx context.Context, g *globals, f *restoreFlags) (err error) {
	lowerGC()
	log, err := g.logger()
	if err != nil {
		return err
	}
	id, err := parseSnapshot(f.snapshot)
	if err != nil {
		return err
	}
	cfg := client.Config{
		Dest: f.dest, StagingDir: f.staging, Streams: f.streams, KeepOld: f.keepOld, Replace: f.replace, BufferedWrites: f.buffered,
		Logger: log, Hook: crashHook(),
	}
	if err := f.fetchFlags.apply(&cfg); err != nil {
		return err
	}
	// The repository's snapshot, served to the install by the sidecar's own
	// SnapshotService (server.StoreHandler, its audit lines unlogged), over
	// in-memory pipes.
	sr, err := openServedRepo(ctx, f.from, f.key, id, log)
	if err != nil {
		return err
	}
	defer func() {
		if uerr := sr.unlock(ctx); uerr != nil && err == nil {
			err = uerr
		}
	}()
	url, hc, stop := serveInProc(ctx, sr.store.HTTPHandler())
	defer stop()
	cfg.HTTPClient = hc
	srcs, closeSrcs, err := f.chunks.open(ctx, &trustFlags{}, log)
	if err != nil {
		return err
	}
	defer closeSrcs()
	for i := range srcs {
		if srcs[i].HTTPClient == nil { // a sidecar's URL: not through this process's pipes
			srcs[i].HTTPClient = client.NewHTTPClient()
		}
	}
	cfg.ChunkSources = srcs
	b := newBar(g.stderr, f.json, "restore")
	cfg.Progress = b.install()
	res, err := client.Install(ctx, url, 0, cfg)
	b.finish()
	if err != nil {
		return fmt.Errorf("restore %s from %s: %w", f.dest, f.from, err)
	}
	res.Source = f.from
	if f.json {
		return printJSON(g.stdout, res)
	}
	return printSummary(g.stdout, f.dest, res)
}
