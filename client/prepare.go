package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http/httptrace"
	"net/url"
	"path/filepath"
	"slices"
	"time"

	"github.com/jonboulle/clockwork"
	"golang.org/x/sync/errgroup"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/verify"
)

// flushWorkers is the number of goroutines fsyncing completed files.
const flushWorkers = 2

// reuseWorkers is the number of goroutines copying local chunks.
const reuseWorkers = 2

// Prepare fetches, verifies and stages a snapshot reflecting at least
// minIndex from the sidecar at from (a base URL such as
// http://127.0.0.1:7600), leaving Dest untouched: PrepareFrom with one source.
func Prepare(ctx context.Context, from string, minIndex uint64, cfg Config) (Prepared, error) {
	return PrepareFrom(ctx, []string{from}, minIndex, cfg)
}

// PrepareFrom fetches, verifies and stages a snapshot reflecting at least
// minIndex from one of the sidecars at sources, leaving Dest untouched. With
// several sources it probes them all at once, fetches from the one with the
// highest index reaching minIndex (ties in list order), and goes on from the
// next when that one fails mid-way, keeping every verified chunk. It resumes what an earlier
// attempt staged, reuses what Dest holds, and returns at once when a snapshot
// that satisfies minIndex is already staged, so calling it again is safe. A
// swap journal left by an interrupted Commit makes it fail with
// ErrRecoverNeeded.
func PrepareFrom(ctx context.Context, sources []string, minIndex uint64, cfg Config) (Prepared, error) {
	start := time.Now()
	ownClient := cfg.HTTPClient == nil
	if err := setup(&cfg); err != nil {
		return Prepared{}, err
	}
	if ownClient { // its connections would idle on until they time out
		defer cfg.HTTPClient.CloseIdleConnections()
	}
	l := newLayout(&cfg)
	unlock, err := lockArea(&l)
	if err != nil {
		return Prepared{}, err
	}
	defer unlock()
	p, err := prepareAny(ctx, sources, minIndex, &cfg, l)
	if err != nil {
		l.dropIfEmpty()
	}
	p.Duration = time.Since(start)
	return p, err
}

func prepareLocked(ctx context.Context, from string, minIndex uint64, cfg *Config, l layout) (Prepared, error) {
	ctr := &counters{m: cfg.Metrics}
	ctr.setPhase(PhaseConnecting)
	rep := startReporter(cfg.Progress, ctr)
	defer rep.Stop()
	p, err := prepareReporting(ctx, from, minIndex, cfg, l, ctr)
	err = noSpace(err)
	if err == nil {
		ctr.setManifest(p.Files, p.BytesTotal)
		ctr.done.Store(p.BytesTotal)
		ctr.setPhase(PhaseStaged)
	}
	return p, err
}

// prepareReporting is prepareLocked, with ctr telling its progress.
func prepareReporting(ctx context.Context, from string, minIndex uint64, cfg *Config, l layout, ctr *counters) (Prepared, error) {
	if err := checkSource(from); err != nil {
		return Prepared{}, err
	}
	if _, err := l.fs.Lstat(l.journal); err == nil {
		return Prepared{}, fmt.Errorf("%w: %s", ErrRecoverNeeded, l.journal)
	}
	st, done, err := settle(ctx, cfg, l)
	if err != nil {
		return Prepared{}, err
	}
	if done != nil {
		cfg.Logger.Info().Str("snapshot", done.SnapshotID.Short()).Msg("finished an interrupted install")
	}
	// Finishing an interrupted Commit (here or in an earlier recovery
	// under this lock) removes the staging area; this Prepare needs one.
	if err := ensureArea(l); err != nil {
		return Prepared{}, err
	}
	if st != nil && st.Phase == phaseStaged && st.Index >= minIndex && slices.Equal(st.Replace, l.names) {
		fillMeta(l, st)
		return Prepared{Result: st.result(), AlreadyStaged: true}, nil
	}
	// The stall watchdog runs on the real clock: its timers stay out of the
	// waiters a test of leases counts on cfg.Clock (internal/stall's own
	// tests move a fake clock).
	rpc := newRPC(withStall(cfg.HTTPClient, cfg.StallTimeout, clockwork.NewRealClock()), from)
	g, err := createSnapshot(waitingOnceSent(ctx, ctr), rpc, minIndex, cfg)
	if err != nil {
		return Prepared{}, err
	}
	defer releaseLease(ctx, rpc, g, cfg.Logger)
	renew := startRenewer(ctx, rpc, g, cfg) // from the grant on: the manifest and the plan take time too
	defer renew.Stop()
	cfg.Logger.Info().Str("snapshot", g.id.Short()).Uint64("index", g.info.GetIndex()).
		Uint64("bytes", g.info.GetTotalBytes()).Uint64("manifest_bytes", g.info.GetManifestSize()).Msg("snapshot granted")
	if st != nil && st.Phase == phaseStaged && st.id() == g.id && slices.Equal(st.Replace, l.names) {
		fillMeta(l, st)
		return Prepared{Result: st.result(), AlreadyStaged: true}, nil
	}
	if err := checkSpaceEarly(cfg, l, g.info.GetTotalBytes()); err != nil {
		return Prepared{}, err
	}
	ctr.setPhase(PhaseFetchingManifest)
	m, at, st, err := openSnapshot(ctx, rpc, g, cfg, l, st)
	if err != nil {
		return Prepared{}, err
	}
	if err := checkSet(m, l.names); err != nil {
		return Prepared{}, err
	}
	st.Replace = l.names
	if err := callHook(cfg.Hook, "manifest-fetched"); err != nil {
		return Prepared{}, err
	}
	return stageSnapshot(ctx, &fetcher{rpc: rpc, id: g.id, leaseID: g.leaseID, ordinal: g.ordinal, cfg: cfg, chunkSize: m.ChunkSize,
		sources: newSourceSet(cfg)}, m, at, st, cfg, l, ctr)
}

// openSnapshot resumes the staging of the granted snapshot, or starts it
// afresh, keeping the data of a different earlier one in prev/. A manifest
// past the plan window comes without its chunk lists, and at says where
// they are in the staged manifest file (decodeManifest).
func openSnapshot(ctx context.Context, rpc snapsyncv1connect.SnapshotServiceClient, g grant, cfg *Config, l layout, st *state) (*verify.Manifest, []int64, *state, error) {
	if st != nil && st.id() == g.id {
		m, at, err := readManifestWindow(l, g.id, cfg.window())
		if err == nil {
			cfg.Logger.Info().Str("snapshot", g.id.Short()).Msg("resuming")
			fillMeta(l, st)
			return m, at, st, nil
		}
		cfg.Logger.Warn().Err(err).Msg("staged manifest unusable, fetching it again")
	}
	if err := rotate(ctx, l); err != nil {
		return nil, nil, nil, err
	}
	m, at, err := fetchManifest(ctx, rpc, g, cfg, l)
	if err != nil {
		return nil, nil, nil, err
	}
	st = &state{Version: stateVersion, SnapshotID: g.id.String(), Phase: phaseFetching}
	st.setManifest(m, int64(g.info.GetManifestSize())) // decodeSpool checked the size
	if err := writeState(l, st); err != nil {
		return nil, nil, nil, err
	}
	return m, at, st, nil
}

// rotate keeps the data of an earlier staging as a source of reusable chunks:
// stage/ becomes prev/, unless prev/ already holds more.
func rotate(ctx context.Context, l layout) error {
	for _, p := range []string{l.state, l.manifest} {
		if err := l.fs.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("remove %s: %w", p, err)
		}
	}
	if _, err := l.fs.Lstat(l.stage); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if _, err := l.fs.Lstat(l.prev); err == nil {
		if treeBytes(l.fs, l.prev) >= treeBytes(l.fs, l.stage) {
			return removeTree(ctx, l.fs, l.stage)
		}
		if err := removeTree(ctx, l.fs, l.prev); err != nil {
			return err
		}
	}
	if err := l.fs.Rename(l.stage, l.prev); err != nil {
		return fmt.Errorf("keep earlier staging: %w", err)
	}
	return l.fs.SyncDir(l.root)
}

// treeBytes is the size of the regular files below root, listed through
// fsys (errors count as 0: a partial count is fine).
func treeBytes(fsys durable.FS, root string) int64 {
	entries, err := fsys.ReadDir(root)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range entries {
		p := filepath.Join(root, e.Name())
		switch {
		case e.IsDir():
			n += treeBytes(fsys, p)
		case e.Type().IsRegular():
			if info, err := fsys.Lstat(p); err == nil {
				n += info.Size
			}
		}
	}
	return n
}

// stageSnapshot plans, fetches and finishes stage/, then marks it staged. On
// error the result holds what was fetched.
func stageSnapshot(ctx context.Context, f *fetcher, m *verify.Manifest, at []int64, st *state, cfg *Config, l layout, ctr *counters) (p Prepared, err error) {
	defer func() {
		if err != nil {
			p.BytesFetched = ctr.fetched.Load()
		}
	}()
	ctr.setManifest(len(m.Files), m.TotalBytes())
	ctr.setPhase(PhasePlanning)
	start := time.Now()
	var tbl *chunkTable
	if at != nil {
		if tbl, err = openChunkTable(l.fs, l.manifest, at); err != nil {
			return Prepared{}, err
		}
		defer tbl.close()
	}
	var s *stager
	var pool *bufPool
	var lp *localPlan
	if tbl == nil {
		s, pool, lp, err = planStage(ctx, m, cfg, l, ctr)
	} else {
		s, pool, lp, err = planWindowed(ctx, m, tbl, cfg, l, ctr)
	}
	if err != nil {
		return Prepared{}, err
	}
	planned := time.Now()
	f.sink, f.ctr = s, ctr
	if err := s.run(ctx, f, pool, lp, func() error { return afterHeld(cfg, l, s.plan, lp) }); err != nil {
		return Prepared{}, err
	}
	fetched := time.Now()
	ctr.setPhase(PhaseFinishing)
	if err := s.finish(ctx, rootModeFor(l.fs, l.dest)); err != nil {
		return Prepared{}, err
	}
	cfg.Logger.Debug().Dur("plan", planned.Sub(start)).Dur("fetch", fetched.Sub(planned)).
		Dur("finish", time.Since(fetched)).Msg("staging phases")
	recordStaged(l, m, tbl, cfg.Logger)
	p, err = markStaged(l, st, ctr, cfg)
	p.LocalBytesRead = lp.idx.read
	p.SourceBytes = f.sources.bytesBySource()
	return p, err
}

// planStage creates stage/'s directories, finds what is staged and what is
// local, and plans the rest: all of it, or, while local candidates are
// still to be hashed, all but what they may supply (deferred.go).
func planStage(ctx context.Context, m *verify.Manifest, cfg *Config, l layout, ctr *counters) (*stager, *bufPool, *localPlan, error) {
	pool := newBufPool(int(m.ChunkSize))
	if err := makeDirs(l.fs, l.stage, m); err != nil {
		return nil, nil, nil, err
	}
	done, complete, err := scanStage(ctx, l.fs, l.stage, m, nil, pool)
	if err != nil {
		return nil, nil, nil, err
	}
	need := neededDigests(m, done, complete)
	var cache *localCache
	want := need // the prefilter
	if !cfg.VerifyLocal {
		cache = loadLocalCache(l, cfg.Logger)
	} else {
		want = nil // exhaustive: every local byte is hashed
	}
	sc, err := scanLocal(ctx, localTrees(l), int(m.ChunkSize), newPrefilter(m, want, cfg.Immutable), cache, cfg.Logger)
	if err != nil {
		return nil, nil, nil, err
	}
	lp := &localPlan{sc: sc, need: need}
	if cfg.VerifyLocal { // exhaustive: every candidate is read whole before planning
		if err := sc.hashRest(ctx); err != nil {
			return nil, nil, nil, err
		}
	}
	idx := sc.index(need)
	s := &stager{root: l.stage, fs: l.fs, mask: l.mask, hook: cfg.Hook, ctr: ctr, log: cfg.Logger, flush: make(chan int, 64),
		buffered: cfg.BufferedWrites, onStaged: cfg.OnChunkStaged}
	s.plan = makePlanHolding(m, done, complete, idx, cfg.Immutable, cfg.FileModeMask,
		func(i int) string { p, _ := join(l.stage, m.Files[i].Path); return p }, sc.heads())
	if s.plan.hold == nil { // nothing held: no candidate is worth reading on
		sc.keep(nil)
		lp.idx = idx
	} else {
		sc.keep(s.plan.hold.heads)
	}
	if err := checkSpace(cfg, l, s.plan); err != nil {
		return nil, nil, nil, err
	}
	ctr.done.Store(s.plan.stagedBytes)
	ctr.reused.Store(s.plan.stagedBytes) // staged by an interrupted attempt: held locally
	if s.plan.hold == nil {
		logPlan(cfg, s.plan, lp.idx, s.plan.reuseBytes(), s.plan.fetchBytes())
	} else {
		lp.reuse, lp.fetch = s.plan.reuseBytes(), s.plan.fetchBytes()
	}
	return s, pool, lp, nil
}

// localTrees lists the trees whose files may hold reusable content.
func localTrees(l layout) []localTree {
	if !l.set {
		return []localTree{{root: l.dest, fromDest: true}, {root: l.prev}}
	}
	trees := []localTree{{root: l.prev}} // only the listed entries of Dest: never the node's other files, nor the staging area
	for _, n := range l.names {
		trees = append(trees, localTree{root: filepath.Join(l.dest, n), fromDest: true})
	}
	return trees
}

// afterHeld checks the space for, and logs, the plan once resolved.
func afterHeld(cfg *Config, l layout, p *plan, lp *localPlan) error {
	if err := checkSpace(cfg, l, p); err != nil {
		return err
	}
	logPlan(cfg, p, lp.idx, lp.reuse+p.reuseBytes(), lp.fetch+p.fetchBytes())
	return nil
}

// logPlan logs the plan's figures ("plan"; the e2e harness reads
// local_hashed and local_cached): reuse and fetch are over both parts of a
// plan that held leaders for candidates.
func logPlan(cfg *Config, p *plan, idx *localIndex, reuse, fetch int64) {
	cfg.Logger.Info().Int("files", len(p.m.Files)).Int64("total", p.m.TotalBytes()).
		Int64("staged", p.stagedBytes).Int64("placed", p.placedBytes).
		Int64("reuse", reuse).Int64("fetch", fetch).
		Int("local_files", idx.files).Int64("local_hashed", idx.hashed).
		Int64("local_cached", idx.cached).Int64("local_skipped", idx.skipped).Int64("local_bytes_read", idx.read).Msg("plan")
}

// run places whole files, then copies, fetches and flushes at once. With
// leaders held for local candidates (lp's scan has some), it hashes them
// meanwhile, resolves the plan, calls resolved, then places, copies and
// fetches what was held.
func (s *stager) run(ctx context.Context, f *fetcher, pool *bufPool, lp *localPlan, resolved func() error) error {
	if err := s.prepareFiles(ctx); err != nil {
		return err
	}
	s.placed(s.plan.placedBytes)
	s.ctr.setPhase(PhaseFetching)
	g, gctx := errgroup.WithContext(ctx)
	for range flushWorkers {
		g.Go(func() error { return s.flushWorker(gctx) })
	}
	g.Go(func() error {
		defer close(s.flush)
		if err := s.readyAll(gctx); err != nil {
			return err
		}
		switch {
		case s.plan.win != nil:
			return s.produceWindows(gctx, f, pool)
		case s.plan.hold == nil:
			return s.produce(gctx, f, pool, s.plan.reuse, s.plan.fetch)
		}
		return s.runHeld(gctx, f, pool, lp, resolved)
	})
	return g.Wait()
}

// runHeld copies and fetches what the plan did not hold while hashing the
// candidates, then carries out the resolved rest.
func (s *stager) runHeld(ctx context.Context, f *fetcher, pool *bufPool, lp *localPlan, resolved func() error) error {
	before := s.plan.placedBytes
	reuse, fetch := s.plan.reuse, s.plan.fetch
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return s.produce(gctx, f, pool, reuse, fetch) })
	g.Go(func() error { return lp.finish(gctx, s.plan) })
	if err := g.Wait(); err != nil {
		return err
	}
	if err := resolved(); err != nil {
		return err
	}
	if err := s.prepareFiles(ctx); err != nil {
		return err
	}
	s.placed(s.plan.placedBytes - before)
	if err := s.readyAll(ctx); err != nil {
		return err
	}
	return s.produce(ctx, f, pool, s.plan.reuse, s.plan.fetch)
}

// placed counts n bytes placed whole as done and reused.
func (s *stager) placed(n int64) {
	s.ctr.done.Add(n)
	s.ctr.addReused(n)
}

// readyAll hands the leaders complete before any write to the flushers.
func (s *stager) readyAll(ctx context.Context) error {
	for _, i := range s.plan.ready {
		if err := s.fileDone(ctx, i); err != nil {
			return err
		}
	}
	return nil
}

// produce copies the reusable chunks while fetching the others, then fetches
// what turned out not to be reusable after all.
func (s *stager) produce(ctx context.Context, f *fetcher, pool *bufPool, reuse, fetch []*job) error {
	var missed []*job
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		missed, err = s.reuse(gctx, reuse, pool, reuseWorkers)
		return err
	})
	g.Go(func() error { return f.runSourced(gctx, fetch) })
	if err := g.Wait(); err != nil {
		return err
	}
	return f.run(ctx, missed)
}

// markStaged records that stage/ is complete, with its identity.
func markStaged(l layout, st *state, ctr *counters, cfg *Config) (Prepared, error) {
	id, err := lstatID(l.fs, l.stage)
	if err != nil || id.IsZero() {
		return Prepared{}, fmt.Errorf("%w: identify %s: %v", ErrStaging, l.stage, err)
	}
	st.Phase, st.Staged = phaseStaged, id
	if l.set {
		if st.Entries, err = stagedEntries(l); err != nil {
			return Prepared{}, err
		}
	}
	st.BytesFetched, st.BytesReused = ctr.fetched.Load(), ctr.reused.Load()
	if err := writeState(l, st); err != nil {
		return Prepared{}, err
	}
	if err := callHook(cfg.Hook, "staged"); err != nil {
		return Prepared{}, err
	}
	cfg.Logger.Info().Str("snapshot", st.id().Short()).Int64("fetched", st.BytesFetched).
		Int64("reused", st.BytesReused).Msg("staged")
	return Prepared{Result: st.result()}, nil
}

// setup fills in the defaults and validates cfg.
func setup(cfg *Config) error {
	cfg.EnsureDefaults()
	return cfg.Validate()
}

// checkSource refuses a base URL that could never reach a sidecar, before
// any retry: it must be http:// or https:// with a host.
func checkSource(from string) error {
	u, err := url.Parse(from)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%w: source URL %q: want http://HOST:PORT or https://HOST:PORT", ErrConfig, from)
	}
	return nil
}

// waitingOnceSent returns ctx with an HTTP trace that moves ctr to
// PhaseWaitingForCheckpoint once the server has the CreateSnapshot request:
// from then on the wait is the server's checkpoint, not the connection.
func waitingOnceSent(ctx context.Context, ctr *counters) context.Context {
	ctr.setPhase(PhaseConnecting)
	return httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(httptrace.WroteRequestInfo) { ctr.setPhase(PhaseWaitingForCheckpoint) },
	})
}
