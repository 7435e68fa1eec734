package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/rs/zerolog"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/snapsync/snapsync/chunker"
	"github.com/snapsync/snapsync/client"
	"github.com/snapsync/snapsync/internal/connlimit"
	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/internal/wire"
	"github.com/snapsync/snapsync/server"
	"github.com/snapsync/snapsync/sidecar"
	"github.com/snapsync/snapsync/source"
	"github.com/snapsync/snapsync/source/registry"
)

type serveFlags struct {
	listen      string
	source      string
	workDir     string
	addrFile    string
	chunkSize   int
	leaseTTL    time.Duration
	reuseWithin time.Duration
	maxStreams  int
	rateLimit   string
	compression string
	frameCache  string
	insecure    bool
	// repoSnapshot is the snapshot a repo: source serves (reposource.go),
	// repoKey the key file of its repository if encrypted.
	repoSnapshot string
	repoKey      keyFlag
	sourceFlags
	localFlags
	metricsFlags
	fetchFlags
	trustFlags
	connFlags
}

func newServeCommand(g *globals) *cobra.Command {
	f := &serveFlags{}
	cmd := &cobra.Command{
		Use:   "serve --source pebble:DIR|dir:DIR|registry:ROOT|exec:PATH|repo:REPO [--listen ADDR] [--local-listen ADDR]",
		Short: "Run the sidecar: serve checkpoints to peers, and the local install API to its node",
		Long: `serve runs the sidecar. On --listen it serves consistent checkpoints of the source to
other sidecars as verified, resumable chunk streams (SnapshotService). On --local-listen,
for its own node only, it serves the two-phase install API (InstallService: Prepare,
Commit, Abort, Status) and, for registry: and exec: sources, RegistryService. Both
listeners also serve gRPC health and reflection.

Sources:
  pebble:DIR     open the Pebble DB at DIR (the sidecar owns it) and checkpoint it on demand
  dir:DIR        an immutable checkpoint directory made by its owner (e.g. RocksDB's ldb checkpoint)
  registry:ROOT  checkpoints the node makes under ROOT and registers over the local API;
                 with --checkpoint-command, that command makes one when none is new enough
  exec:PATH      PATH makes a checkpoint on demand under WORK-DIR/incoming and prints
                 {"dir": ..., "term": N, "index": N} (needs --work-dir)
  repo:REPO      one committed snapshot of a backup repository (--repo-snapshot, default the
                 newest), read-only, under the repository's shared lock so a prune waits;
                 REPO is a directory, file:///path or s3://bucket/prefix (AWS_* environment).
                 The checkpoint, lease, chunking, compression and stream/rate limit options
                 do not apply and are refused: chunks go raw, as stored`,
		Example: `  snapsync serve --source pebble:/var/lib/app/db --listen 0.0.0.0:7600
  snapsync serve --source registry:/var/lib/om/checkpoints --listen 0.0.0.0:7600 \
      --local-listen unix:/run/snapsync.sock --allow-dest /var/lib/om
  snapsync serve --source repo:s3://backups/om --repo-snapshot latest --listen 0.0.0.0:7600`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd, g, f)
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.listen, "listen", "127.0.0.1:7600", "address to serve peers on")
	fl.StringVar(&f.source, "source", "", "what to serve: "+sourceKinds+" (required)")
	fl.StringVar(&f.repoSnapshot, "repo-snapshot", "latest", "repo: source: the snapshot ID to serve, or latest")
	f.repoKey.add(fl, "repo-key-file", "repo: source: "+keyFileHelp)
	fl.StringVar(&f.workDir, "work-dir", "", "where checkpoints and lease state live (default: beside the source, DIR.snapsync)")
	fl.StringVar(&f.addrFile, "addr-file", "", "write the bound peer address here once listening (for scripts and tests)")
	fl.IntVar(&f.chunkSize, "chunk-size", chunker.DefaultChunkSize, "chunk size in bytes")
	fl.DurationVar(&f.leaseTTL, "lease-ttl", 2*time.Minute, "default lease on a checkpoint")
	fl.DurationVar(&f.reuseWithin, "reuse-within", 30*time.Second, "reuse a checkpoint younger than this")
	fl.IntVar(&f.maxStreams, "max-streams", 16, "concurrent chunk streams")
	fl.StringVar(&f.rateLimit, "rate-limit", "0", "wire bytes per second across all streams, e.g. 100MB (0: unlimited)")
	fl.StringVar(&f.compression, "compression", "auto", "chunk compression: auto (where it pays), zstd, none")
	fl.StringVar(&f.frameCache, "frame-cache", "8MiB", "memory for zstd frames shared by followers fetching the same chunks (0: off)")
	fl.BoolVar(&f.insecure, "insecure", false,
		"serve peers on a non-loopback --listen without TLS or a token: anyone who reaches it can copy the DB")
	f.sourceFlags.add(fl)
	f.localFlags.add(fl)
	f.metricsFlags.add(fl)
	f.fetchFlags.add(fl)
	f.trustFlags.add(fl, true)
	f.connFlags.add(fl)
	return cmd
}

func runServe(cmd *cobra.Command, g *globals, f *serveFlags) (err error) {
	log, err := g.logger()
	if err != nil {
		return err
	}
	lowerGC()
	ctx := cmd.Context()
	loc, isRepo := strings.CutPrefix(f.source, "repo:")
	if err := f.checkSourceFlags(cmd.Flags(), isRepo); err != nil {
		return err
	}
	var cfg server.Config
	if !isRepo {
		if cfg, err = f.config(); err != nil {
			return err
		}
	}
	if err := f.localFlags.validate(); err != nil {
		return err
	}
	if err := f.checkListen(); err != nil {
		return err
	}
	installs, err := f.installTemplate(log)
	if err != nil {
		return err
	}
	chunkSrcs, err := f.installChunks.opener(&f.trustFlags, log)
	if err != nil {
		return err
	}
	var (
		src   source.Source
		reg   *registry.Source
		repoS *repoSource
	)
	if isRepo {
		if repoS, err = f.openRepoSource(ctx, loc, log); err != nil {
			return err
		}
		defer func() {
			if cerr := repoS.close(ctx); cerr != nil && err == nil {
				err = cerr
			}
		}()
	} else {
		if src, reg, err = f.openSource(f.source, cfg.WorkDir, log); err != nil {
			return err
		}
		defer src.Close()
	}
	mx, err := f.metricsFlags.open(log)
	if err != nil {
		return err
	}
	defer mx.close()
	lim, err := f.limiter(mx.m, log)
	if err != nil {
		return err
	}
	var peer http.Handler
	var watch func(context.Context) error
	var chunks localChunks // what the node's installs give its peers by digest
	if isRepo {
		peer, watch = repoS.handler, repoS.watch
	} else {
		cfg.Source, cfg.Logger, cfg.Metrics = src, log, mx.m
		if f.localListen != "" && len(f.allowDest) > 0 {
			cfg.Staged = server.NewStagedChunks(0)
		}
		srv, err := server.New(ctx, cfg)
		if err != nil {
			return err
		}
		defer srv.Close()
		peer = srv.Handler()
		chunks = localChunks{staged: cfg.Staged, committed: srv.ServeInstalled}
	}
	local, err := f.openLocal(reg, installs, chunkSrcs, chunks, mx.m, log)
	if err != nil {
		return err
	}
	defer local.Close()
	return f.serve(ctx, peer, watch, local, mx, lim, log)
}

// serve listens for peers and serves every listener until ctx is done or
// one of them fails; lim bounds their connections together. srv is the
// SnapshotService; watch, if not nil, runs beside the listeners and ends
// the serve when it fails.
func (f *serveFlags) serve(ctx context.Context, srv http.Handler, watch func(context.Context) error, local *localAPI, mx *metricsEndpoint, lim *connlimit.Limiter, log zerolog.Logger) error {
	ln, err := net.Listen("tcp", f.listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	peer, err := f.listener(ln.Addr(), f.insecure, log)
	if err != nil {
		return errors.Join(err, ln.Close())
	}
	if f.addrFile != "" {
		if err := durable.WriteFile(durable.OS(), f.addrFile, []byte(ln.Addr().String()), 0o644); err != nil {
			return err
		}
	}
	log.Info().Str("addr", ln.Addr().String()).Str("source", f.source).Msg("serving peers")
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		h := connlimit.Gate(peer.guard.Wrap, peer.guard.Exempt, sidecar.PeerHandler(srv))
		return server.Serve(gctx, ln, h, append(peer.opts, server.WithConnLimit(lim, "peer"))...)
	})
	if watch != nil {
		g.Go(func() error { return watch(gctx) })
	}
	if mx.ln != nil {
		g.Go(func() error { return mx.serve(gctx, server.WithConnLimit(lim, "metrics")) })
	}
	if local.ln != nil {
		g.Go(func() error {
			return server.Serve(gctx, local.ln, local.handler, server.WithConnContext(sidecar.ConnContext),
				server.WithConnLimit(lim, "local"))
		})
		g.Go(func() error {
			<-gctx.Done()
			local.closeWatches()
			return nil
		})
	}
	return g.Wait()
}

// installTemplate is the client configuration of the local API's installs.
func (f *serveFlags) installTemplate(log zerolog.Logger) (client.Config, error) {
	hc, err := f.httpClient(log)
	if err != nil {
		return client.Config{}, err
	}
	cfg := client.Config{Streams: f.installStreams, KeepOld: f.keepOld, BufferedWrites: f.bufferedWrites, Hook: crashHook(), HTTPClient: hc, Logger: log}
	return cfg, f.fetchFlags.apply(&cfg)
}

// checkListen refuses, before anything opens, a --listen whose host is not
// loopback when the peer listener would be neither encrypted nor
// authenticated. The bound address is checked again once listening.
func (f *serveFlags) checkListen() error {
	missing := f.protection()
	if f.insecure || missing == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(f.listen)
	if err != nil {
		return fmt.Errorf("--listen %q: %w", f.listen, err)
	}
	if ip := net.ParseIP(host); strings.EqualFold(host, "localhost") || (ip != nil && ip.IsLoopback()) {
		return nil
	}
	return fmt.Errorf("--listen %s: %w (%s): %s", f.listen, errInsecure, missing, insecureHelp)
}

func (f *serveFlags) config() (server.Config, error) {
	rate, err := humanize.ParseBytes(f.rateLimit)
	if err != nil {
		return server.Config{}, fmt.Errorf("--rate-limit: %w", err)
	}
	comp, err := wire.ParseCompression(f.compression)
	if err != nil {
		return server.Config{}, fmt.Errorf("--compression: %w", err)
	}
	frames, err := humanize.ParseBytes(f.frameCache)
	if err != nil {
		return server.Config{}, fmt.Errorf("--frame-cache: %w", err)
	}
	frameBytes := int64(frames)
	if frameBytes == 0 {
		frameBytes = -1 // the server's "off"
	}
	work, err := defaultWorkDir(f.workDir, f.source)
	if err != nil {
		return server.Config{}, err
	}
	return server.Config{
		WorkDir: work, ChunkSize: f.chunkSize, LeaseTTL: f.leaseTTL, ReuseWithin: f.reuseWithin,
		MaxStreams: f.maxStreams, RateLimit: int64(rate), Compression: comp, FrameCacheBytes: frameBytes,
	}, nil
}
