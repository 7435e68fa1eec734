package main

import (
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/wire"
)

type installFlags struct {
	from        []string
	dest        string
	staging     string
	json        bool
	streams     int
	keepOld     bool
	verifyLocal bool
	planWindow  int
	buffered    bool
	replace     []string
	minIndex    uint64
	compressed  string
	chunks      chunkSourceFlags
	fetchFlags
	trustFlags
}

func newInstallCommand(g *globals) *cobra.Command {
	f := &installFlags{}
	cmd := &cobra.Command{
		Use:   "install --from URL[,URL...] --dest DIR [--json]",
		Short: "Fetch a checkpoint from a serving sidecar and swap it in atomically",
		Long: `install asks the sidecar at URL for a consistent checkpoint, fetches only what DIR
(and any interrupted earlier install) does not already hold, verifies every byte, stages
the tree beside DIR and swaps it in atomically. DIR is created if it does not exist.
On any error DIR is left as it was; running install again resumes.

With several URLs, install asks each at once (Probe: no lease, no checkpoint) for the
newest index it can serve, fetches from the highest reaching --min-index (ties go to the
earlier URL, so list the peers to spare, such as the leader, last) and, if that one
fails mid-way, goes on from the next, keeping every chunk already verified.`,
		Example: `  snapsync install --from http://leader:7600 --dest /var/lib/app/db --json
  snapsync install --from http://om2:7600,http://om3:7600,http://om1:7600 --min-index 4711 --dest /var/lib/app/db
  snapsync install --from https://om-0.om:7600 --dest /var/lib/app/db \
      --tls-ca ca.pem --tls-cert me.pem --tls-key me.key --allow-peer spiffe://cluster/ns/ozone/sa/om`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runInstall(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringSliceVar(&f.from, "from", nil, "base URLs of serving sidecars, comma-separated, e.g. http://127.0.0.1:7600 (required)")
	fl.StringVar(&f.dest, "dest", "", "database directory to create or replace (required)")
	fl.StringVar(&f.staging, "staging-dir", "", "staging area: must be a direct child of --dest's parent directory, other than --dest (default: .snapsync-NAME there)")
	fl.BoolVar(&f.json, "json", false, "print the result as one JSON object")
	fl.IntVar(&f.streams, "streams", 4, "parallel chunk streams")
	fl.BoolVar(&f.keepOld, "keep-old", false, "keep the replaced database (or --replace entries) for snapsync rollback, until snapsync finalize deletes it")
	fl.BoolVar(&f.verifyLocal, "verify-local", false, "hash every byte of every local file, ignoring the digest cache beside DIR and the prefilter (an SST of no manifest file's size unread, others by their first chunk)")
	fl.IntVar(&f.planWindow, "plan-window", 0, "most chunks planned at once: a larger manifest is staged a window at a time, in memory bounded by the window (0: 262144)")
	fl.BoolVar(&f.buffered, "buffered-writes", false, "write every chunk through the page cache (default: whole chunks bypass it with direct I/O where the filesystem allows)")
	fl.StringSliceVar(&f.replace, "replace", nil, "replace only these top-level entries of --dest, as one unit, leaving the rest (e.g. om.db,db.snapshots in an OM metadata dir); the staging area is then DIR/.snapsync-replace")
	fl.Uint64Var(&f.minIndex, "min-index", 0, "require a checkpoint reflecting at least this Raft index")
	fl.StringVar(&f.compressed, "compression", "auto", "ask the server for chunk compression: auto, zstd, none")
	f.chunks.add(fl, "", "--from")
	f.fetchFlags.add(fl)
	f.trustFlags.add(fl, false)
	for _, name := range []string{"from", "dest"} {
		if err := cmd.MarkFlagRequired(name); err != nil {
			panic(err) // a programming error: the flag is defined just above
		}
	}
	return cmd
}

func runInstall(cmd *cobra.Command, g *globals, f *installFlags) error {
	lowerGC()
	log, err := g.logger()
	if err != nil {
		return err
	}
	comp, err := wire.ParseCompression(f.compressed)
	if err != nil {
		return fmt.Errorf("--compression: %w", err)
	}
	if err := f.checkSourceURLs(f.from...); err != nil {
		return fmt.Errorf("--from %w", err)
	}
	hc, err := f.httpClient(log)
	if err != nil {
		return err
	}
	cfg := client.Config{
		Dest: f.dest, StagingDir: f.staging, Streams: f.streams, KeepOld: f.keepOld, VerifyLocal: f.verifyLocal, PlanWindow: f.planWindow, Replace: f.replace,
		BufferedWrites: f.buffered,
		Compression:    comp, Logger: log, Hook: crashHook(), HTTPClient: hc,
	}
	if err := f.fetchFlags.apply(&cfg); err != nil {
		return err
	}
	srcs, closeSrcs, err := f.chunks.open(cmd.Context(), &f.trustFlags, log)
	if err != nil {
		return err
	}
	defer closeSrcs()
	cfg.ChunkSources = srcs
	b := newBar(g.stderr, f.json, "install")
	cfg.Progress = b.install()
	res, err := client.InstallFrom(cmd.Context(), f.from, f.minIndex, cfg)
	b.finish()
	if err != nil {
		return fmt.Errorf("install %s: %w", f.dest, err)
	}
	if f.json {
		return printJSON(g.stdout, res)
	}
	return printSummary(g.stdout, f.dest, res)
}

// installOutput is the --json shape: stable field names for scripts.
type installOutput struct {
	SnapshotID   string `json:"snapshot_id"`
	Term         uint64 `json:"term"`
	Index        uint64 `json:"index"`
	Files        int    `json:"files"`
	BytesTotal   int64  `json:"bytes_total"`
	BytesFetched int64  `json:"bytes_fetched"`
	BytesReused  int64  `json:"bytes_reused"`
	// LocalBytesRead: local bytes planning read and hashed.
	LocalBytesRead int64   `json:"local_bytes_read"`
	Seconds        float64 `json:"seconds"`
	Source         string  `json:"source"`
	// Failovers are the sources given up on before Source, in order.
	Failovers []string `json:"failovers,omitempty"`
	// BytesBySource: what each --chunks-from source sent of bytes_fetched
	// (the rest came from source).
	BytesBySource map[string]int64 `json:"bytes_by_source,omitempty"`
	// RollbackAvailable: --keep-old kept the replaced DB for rollback.
	RollbackAvailable bool `json:"rollback_available,omitempty"`
}

func newInstallOutput(r client.Result) installOutput {
	out := installOutput{
		SnapshotID: r.SnapshotID.String(), Term: r.Term, Index: r.Index, Files: r.Files,
		BytesTotal: r.BytesTotal, BytesFetched: r.BytesFetched, BytesReused: r.BytesReused,
		LocalBytesRead: r.LocalBytesRead, Seconds: r.Duration.Seconds(), Source: r.Source, RollbackAvailable: r.RollbackAvailable,
		BytesBySource: r.SourceBytes,
	}
	for _, f := range r.Failovers {
		out.Failovers = append(out.Failovers, f.Source)
	}
	return out
}

func printJSON(w io.Writer, r client.Result) error {
	return json.NewEncoder(w).Encode(newInstallOutput(r))
}

func printSummary(w io.Writer, dest string, r client.Result) error {
	secs := max(r.Duration.Seconds(), 1e-9)
	_, err := fmt.Fprintf(w, "installed snapshot %s (term %d, index %d) into %s\n"+
		"  %d files, %s total; %s fetched on the wire, %s reused locally; %s (%s/s)\n",
		r.SnapshotID.Short(), r.Term, r.Index, dest, r.Files,
		humanize.IBytes(uint64(r.BytesTotal)), humanize.IBytes(uint64(r.BytesFetched)),
		humanize.IBytes(uint64(r.BytesReused)), r.Duration.Round(time.Millisecond),
		humanize.IBytes(uint64(float64(r.BytesTotal)/secs)))
	return err
}
