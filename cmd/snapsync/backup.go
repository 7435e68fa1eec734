package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"

	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/wire"
	"github.com/snapsync/snapsync/repo/backup"
	"github.com/snapsync/snapsync/server"
)

type backupFlags struct {
	from       string
	to         string
	labels     []string
	json       bool
	streams    int
	minIndex   uint64
	compressed string
	stall      time.Duration
	cacheDir   string
	key        keyFlag
	trustFlags
}

func newBackupCommand(g *globals) *cobra.Command {
	f := &backupFlags{}
	cmd := &cobra.Command{
		Use:   "backup --from SOURCE --to REPO [--label k=v]... [--json]",
		Short: "Back a checkpoint up into a deduplicating, verified repository",
		Long: `backup is a fetch whose destination is a repository: it leases a checkpoint of
SOURCE, verifies its manifest and every chunk, uploads only the chunks REPO does not
hold yet (each distinct chunk once), then stores the manifest and commits the snapshot.
It fetches exactly as install does: dropped streams are retried with backoff and a
source silent for --stall-timeout fails it. A killed backup leaves REPO valid; running
it again uploads only what is missing.

SOURCE is a sidecar's base URL (http:// or https://, with install's TLS and token
flags), or pebble:DIR or dir:DIR, served inside this process for the backup.
REPO is ` + repoHelp + `.`,
		Example: `  snapsync backup --from http://om1:7600 --to s3://backups/om --label cluster=prod
  snapsync backup --from pebble:/var/lib/app/db --to /backups/app --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runBackup(cmd.Context(), g, f) },
	}
	fl := cmd.Flags()
	fl.StringVar(&f.from, "from", "", "the source: a sidecar URL, pebble:DIR or dir:DIR (required)")
	fl.StringVar(&f.to, "to", "", "the repository: "+repoHelp+" (required)")
	fl.StringArrayVar(&f.labels, "label", nil, "a label k=v recorded with the snapshot; repeatable")
	fl.BoolVar(&f.json, "json", false, "print the result as one JSON object")
	fl.IntVar(&f.streams, "streams", 4, "parallel chunk streams")
	fl.Uint64Var(&f.minIndex, "min-index", 0, "require a checkpoint reflecting at least this Raft index")
	fl.StringVar(&f.compressed, "compression", "auto", "ask the source for chunk compression: auto, zstd, none")
	fl.DurationVar(&f.stall, "stall-timeout", client.DefaultStallTimeout,
		"fail the backup when the source sends no progress (headers, or 32 KiB) for this long; a slow but moving transfer is never cut")
	fl.StringVar(&f.cacheDir, "cache-dir", defaultCacheDir(),
		"where backups of pebble: and dir: sources keep their digest cache, so files unchanged since an earlier backup are not read again; empty: none")
	f.key.add(fl, "key-file", keyFileHelp+"; a backup that creates REPO with it makes an encrypted repository")
	f.trustFlags.add(fl, false)
	for _, name := range []string{"from", "to"} {
		if err := cmd.MarkFlagRequired(name); err != nil {
			panic(err) // a programming error: the flag is defined just above
		}
	}
	return cmd
}

func runBackup(ctx context.Context, g *globals, f *backupFlags) error {
	lowerGC()
	log, err := g.logger()
	if err != nil {
		return err
	}
	labels, err := parseLabels(f.labels)
	if err != nil {
		return err
	}
	comp, err := wire.ParseCompression(f.compressed)
	if err != nil {
		return fmt.Errorf("--compression: %w", err)
	}
	if f.stall <= 0 {
		return fmt.Errorf("--stall-timeout %v: must be positive", f.stall)
	}
	url, hc, tee, stop, err := f.source(ctx, log)
	if err != nil {
		return err
	}
	defer stop()
	r, err := createRepo(ctx, f.to, f.key) // after the source opened: a typo in --from creates no repository
	if err != nil {
		return err
	}
	if !r.Encrypted() && strings.HasPrefix(f.to, "s3://") {
		log.Warn().Str("repository", f.to).
			Msg("the repository is not encrypted: the DB's secrets are stored in the bucket as they are; back up into a new repository with --key-file to encrypt")
	}
	b := newBar(g.stderr, f.json, "backup")
	res, err := backup.Run(ctx, backup.Config{Source: url, Repo: r, HTTPClient: hc, MinIndex: f.minIndex,
		Labels: labels, Streams: f.streams, Compression: comp, StallTimeout: f.stall, Progress: b.backup(), Logger: log, Tee: tee})
	b.finish()
	if err != nil {
		return fmt.Errorf("backup %s to %s: %w", f.from, f.to, err)
	}
	if f.json {
		return json.NewEncoder(g.stdout).Encode(newBackupOutput(res))
	}
	return printBackup(g.stdout, f.to, res)
}

// source returns the URL to back up from and the client to reach it: --from
// itself with the trust flags, or a pebble: or dir: source served inside
// the process over in-memory pipes (serveInProc: no socket), with the Tee
// that stores the chunks its manifest build reads (nil for a URL).
func (f *backupFlags) source(ctx context.Context, log zerolog.Logger) (string, *http.Client, *backup.Tee, func(), error) {
	if strings.HasPrefix(f.from, "http://") || strings.HasPrefix(f.from, "https://") {
		if err := f.checkSourceURLs(f.from); err != nil {
			return "", nil, nil, nil, fmt.Errorf("--from %w", err)
		}
		hc, err := f.httpClient(log)
		if err != nil {
			return "", nil, nil, nil, err
		}
		return f.from, hc, nil, func() {}, nil
	}
	var sf sourceFlags
	src, _, err := sf.openSource(f.from, "", log)
	if err != nil {
		return "", nil, nil, nil, fmt.Errorf("--from: %w", err)
	}
	work, err := os.MkdirTemp("", "snapsync-backup-")
	if err != nil {
		src.Close()
		return "", nil, nil, nil, err
	}
	tee := &backup.Tee{}
	srv, err := server.New(ctx, server.Config{Source: src, WorkDir: work, ReuseWithin: time.Nanosecond, Logger: log,
		DigestCachePath: backupCachePath(f.cacheDir, log), OnHashed: tee.Hashed})
	if err != nil {
		src.Close()
		os.RemoveAll(work)
		return "", nil, nil, nil, err
	}
	url, hc, stopServe := serveInProc(ctx, srv.Handler())
	return url, hc, tee, func() {
		stopServe()
		srv.Close()
		src.Close()
		os.RemoveAll(work) // a temporary directory: what is left is only disk
	}, nil
}

// parseLabels parses --label k=v flags.
func parseLabels(kvs []string) (map[string]string, error) {
	out := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("--label %q: want key=value", kv)
		}
		out[k] = v
	}
	return out, nil
}

// backupOutput is backup's --json shape: stable field names for scripts.
type backupOutput struct {
	SnapshotID   string  `json:"snapshot_id"`
	Term         uint64  `json:"term"`
	Index        uint64  `json:"index"`
	Files        int     `json:"files"`
	BytesTotal   int64   `json:"bytes_total"`
	BytesNew     int64   `json:"bytes_new"` // stored in the repository, compressed
	BytesFetched int64   `json:"bytes_fetched"`
	ChunksNew    int     `json:"chunks_new"`
	ChunksReused int     `json:"chunks_reused"`
	Seconds      float64 `json:"seconds"`
}

func newBackupOutput(r backup.Result) backupOutput {
	return backupOutput{
		SnapshotID: r.SnapshotID.String(), Term: r.Term, Index: r.Index, Files: r.Files,
		BytesTotal: r.BytesTotal, BytesNew: r.BytesNew, BytesFetched: r.BytesFetched,
		ChunksNew: r.ChunksNew, ChunksReused: r.ChunksReused, Seconds: r.Duration.Seconds(),
	}
}

func printBackup(w io.Writer, to string, r backup.Result) error {
	_, err := fmt.Fprintf(w, "backed up snapshot %s (term %d, index %d) into %s\n"+
		"  %d files, %s total; %d chunks new (%s stored), %d already there; %s\n",
		r.SnapshotID, r.Term, r.Index, to, r.Files, humanize.IBytes(uint64(r.BytesTotal)),
		r.ChunksNew, humanize.IBytes(uint64(r.BytesNew)), r.ChunksReused, r.Duration.Round(time.Millisecond))
	return err
}
