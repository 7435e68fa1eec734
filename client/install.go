package client

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/swap"
)

// Install makes Dest a verified copy of a snapshot reflecting at least
// minIndex, fetched from the sidecar at from (a base URL such as
// http://127.0.0.1:7600): InstallFrom with one source.
func Install(ctx context.Context, from string, minIndex uint64, cfg Config) (Result, error) {
	return InstallFrom(ctx, []string{from}, minIndex, cfg)
}

// InstallFrom makes Dest a verified copy of a snapshot reflecting at least
// minIndex, fetched from one of sources as PrepareFrom picks it: Recover,
// then Prepare, then Commit, holding the staging area's lock throughout. On
// error Dest is the old tree, whole, and running it again resumes.
func InstallFrom(ctx context.Context, sources []string, minIndex uint64, cfg Config) (Result, error) {
	start := time.Now()
	ownClient := cfg.HTTPClient == nil
	if err := setup(&cfg); err != nil {
		return Result{}, err
	}
	if ownClient { // its connections would idle on until they time out
		defer cfg.HTTPClient.CloseIdleConnections()
	}
	l := newLayout(&cfg)
	unlock, err := lockArea(&l)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	_, done, err := recoverLocked(ctx, &cfg, l)
	if err != nil {
		return Result{}, err
	}
	if done != nil && done.Index >= minIndex {
		// An interrupted Commit put its snapshot in place and recovery
		// finished it: that snapshot is the install asked for.
		cfg.Logger.Info().Str("snapshot", done.SnapshotID.Short()).Msg("finished an interrupted install")
		done.Duration = time.Since(start)
		return *done, nil
	}
	p, err := prepareAny(ctx, sources, minIndex, &cfg, l)
	if err != nil {
		l.dropIfEmpty()
		return Result{}, err
	}
	res, err := commitLocked(ctx, &cfg, l)
	res.Source, res.Failovers, res.LocalBytesRead, res.SourceBytes = p.Source, p.Failovers, p.LocalBytesRead, p.SourceBytes
	res.Duration = time.Since(start)
	return res, noSpace(err)
}

// Recover finishes or undoes a swap that an interrupted Commit left (package
// swap's journal), then finishes that Commit's cleanup if the new tree is in
// place. Dest is whole before and after. With nothing to recover it does
// nothing.
//
// Without Config.Replace it also recovers an interrupted set install found
// in Dest (SetStagingName): the journal and the state hold its list.
func Recover(ctx context.Context, cfg Config) error {
	if err := setup(&cfg); err != nil {
		return err
	}
	if set, ok := setAreaConfig(cfg); ok {
		if err := Recover(ctx, set); err != nil {
			return err
		}
	}
	l := newLayout(&cfg)
	unlock, err := lockArea(&l)
	if err != nil {
		return err
	}
	defer unlock()
	_, _, err = recoverLocked(ctx, &cfg, l)
	return err
}

// Abort gives the staging area back: with keep, what is staged stays for a
// later Prepare to resume (or find complete); without, the staging area is
// removed. An interrupted swap is recovered first.
//
// Without Config.Replace it does the same to the staging area of a set
// install found in Dest (SetStagingName).
func Abort(ctx context.Context, cfg Config, keep bool) error {
	if err := setup(&cfg); err != nil {
		return err
	}
	if set, ok := setAreaConfig(cfg); ok {
		if err := Abort(ctx, set, keep); err != nil {
			return err
		}
	}
	l := newLayout(&cfg)
	unlock, err := lockArea(&l)
	if err != nil {
		return err
	}
	defer unlock()
	if _, _, err := recoverLocked(ctx, &cfg, l); err != nil || keep {
		return err
	}
	if err := removeTree(ctx, l.fs, l.root); err != nil {
		return fmt.Errorf("remove staging area: %w", err)
	}
	return nil
}

// recoverLocked runs swap.Recover on the journal, then settles the state.
func recoverLocked(ctx context.Context, cfg *Config, l layout) (*state, *Result, error) {
	out, err := swap.Recover(ctx, l.journal, swap.Options{FS: l.fs, Hook: cfg.Hook, Logger: cfg.Logger})
	if err != nil {
		return nil, nil, fmt.Errorf("recover swap: %w", err)
	}
	if out != swap.Nothing {
		cfg.Logger.Info().Str("outcome", out.String()).Msg("recovered an interrupted swap")
	}
	return settle(ctx, cfg, l)
}

// settle reads the state and makes it true to the disk, telling trees apart
// by identity: if the staged tree is at Dest, the swap happened and its
// cleanup is finished (the result is returned); if a swap began but did not
// happen, the state goes back to staged. An unreadable state is discarded:
// the data stays, reused only where its hash matches.
func settle(ctx context.Context, cfg *Config, l layout) (*state, *Result, error) {
	st, err := readState(l)
	if errors.Is(err, ErrStaging) {
		cfg.Logger.Warn().Err(err).Msg("discarding unreadable state")
		if rerr := l.fs.Remove(l.state); rerr != nil {
			return nil, nil, fmt.Errorf("remove state: %w", rerr)
		}
		return nil, nil, nil
	}
	if err != nil || st == nil || st.Phase == phaseFetching {
		return st, nil, err
	}
	swapped, old, err := swappedIn(l, st)
	if err != nil {
		return nil, nil, err
	}
	if swapped {
		res, err := afterSwap(ctx, cfg, l, st, old)
		return nil, &res, err
	}
	if sid, err := lstatID(l.fs, l.stage); err != nil || !sid.Same(st.Staged) {
		cfg.Logger.Warn().Err(err).Msg("staged tree missing or replaced, discarding state")
		if rerr := l.fs.Remove(l.state); rerr != nil {
			return nil, nil, fmt.Errorf("remove state: %w", rerr)
		}
		return nil, nil, nil
	}
	if st.Phase == phaseSwapping {
		st.Phase, st.Old = phaseStaged, durable.FileID{}
		if err := writeState(l, st); err != nil {
			return nil, nil, err
		}
	}
	return st, nil, nil
}

// swappedIn reports, by identity, whether the staged tree (or set) is in
// Dest, and where the old one is.
func swappedIn(l layout, st *state) (bool, string, error) {
	if l.set {
		in, err := setInPlace(l, st)
		return in, l.setOld(), err
	}
	did, err := lstatID(l.fs, l.dest)
	if err != nil {
		return false, "", fmt.Errorf("identify %s: %w", l.dest, err)
	}
	return did.Same(st.Staged), locateOld(l, st.Old), nil
}

// locateOld finds the tree that was at Dest before the swap, by identity,
// where package swap leaves it.
func locateOld(l layout, old durable.FileID) string {
	if old.IsZero() {
		return ""
	}
	for _, p := range []string{l.stage, l.pairOld()} {
		if id, err := lstatID(l.fs, p); err == nil && id.Same(old) {
			return p
		}
	}
	return ""
}
