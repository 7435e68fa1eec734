package client

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/swap"
)

// Commit swaps the staged snapshot in: Dest becomes the new tree in one
// atomic step, the old tree is removed (or kept for Rollback, Config.KeepOld), and the
// staging area is removed. It recovers an interrupted swap first; when that
// recovery finishes an earlier Commit, its result is returned. Nothing
// staged: ErrNotStaged.
func Commit(ctx context.Context, cfg Config) (Result, error) {
	start := time.Now()
	if err := setup(&cfg); err != nil {
		return Result{}, err
	}
	l := newLayout(&cfg)
	unlock, err := lockArea(&l)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	res, err := commitLocked(ctx, &cfg, l)
	res.Duration = time.Since(start)
	return res, err
}

func commitLocked(ctx context.Context, cfg *Config, l layout) (Result, error) {
	st, res, err := recoverLocked(ctx, cfg, l)
	if err != nil || res != nil {
		return deref(res), err
	}
	if st == nil || st.Phase != phaseStaged {
		return Result{}, ErrNotStaged
	}
	sid, err := lstatID(l.fs, l.stage)
	if err != nil || !sid.Same(st.Staged) {
		return Result{}, fmt.Errorf("%w: %s is not the tree that was staged (%v)", ErrStaging, l.stage, err)
	}
	if l.set && !slices.Equal(st.Replace, l.names) {
		return Result{}, fmt.Errorf("%w: commit names %q, prepared with %q", ErrReplaceMismatch, l.names, st.Replace)
	}
	if !l.set {
		if st.Old, err = lstatID(l.fs, l.dest); err != nil {
			return Result{}, fmt.Errorf("identify %s: %w", l.dest, err)
		}
	}
	if err := refusePending(ctx, l); err != nil {
		return Result{}, err
	}
	fillMeta(l, st) // the result names the manifest's meta after manifest.bin is gone
	st.Phase, st.KeepOld = phaseSwapping, cfg.KeepOld
	if err := writeState(l, st); err != nil {
		return Result{}, err
	}
	old, err := swapIn(ctx, cfg, l)
	if err != nil {
		if !errors.Is(err, swap.ErrInterrupted) { // nothing moved
			st.Phase, st.Old = phaseStaged, durable.FileID{}
			if werr := writeState(l, st); werr != nil {
				cfg.Logger.Warn().Err(werr).Msg("save state")
			}
		}
		return Result{}, fmt.Errorf("swap: %w", err)
	}
	return afterSwap(ctx, cfg, l, st, old)
}

// swapIn swaps stage/ in: the whole of Dest, or the listed entries of a set
// install as one unit.
func swapIn(ctx context.Context, cfg *Config, l layout) (string, error) {
	o := swap.Options{FS: l.fs, Hook: cfg.Hook, Logger: cfg.Logger}
	if l.set {
		return swap.ReplaceSet(ctx, l.dest, l.stage, l.names, l.journal, o)
	}
	return swap.Replace(ctx, l.dest, l.stage, l.journal, o)
}

// afterSwap removes the old tree, or keeps it for Rollback (KeepOld, as the
// state recorded it before the swap, so a recovery by another caller keeps
// it too), then removes the staging area, once the new tree is at Dest.
func afterSwap(ctx context.Context, cfg *Config, l layout, st *state, old string) (Result, error) {
	kept := false
	switch {
	case st.KeepOld:
		var err error
		if kept, err = keepOld(ctx, cfg, l, st, old); err != nil {
			return Result{}, err
		}
	case old != "":
		if err := removeTree(ctx, l.fs, old); err != nil {
			return Result{}, fmt.Errorf("remove old tree: %w", err)
		}
	}
	if err := callHook(cfg.Hook, "old-removed"); err != nil {
		return Result{}, err
	}
	if err := promoteCache(l); err != nil {
		// The new DB is in place; the cache only spares hashing. A cache
		// that cannot be replaced (another uid's file in a sticky shared
		// parent: EPERM) must not fail every later run of this Commit.
		cfg.Logger.Warn().Err(err).Str("cache", l.cachePath()).
			Msg("follower digest cache not updated: the next install hashes the DB's files again")
	}
	if err := removeTree(ctx, l.fs, l.root); err != nil {
		return Result{}, fmt.Errorf("remove staging area: %w", err)
	}
	if err := callHook(cfg.Hook, "done"); err != nil {
		return Result{}, err
	}
	cfg.Logger.Info().Str("snapshot", st.id().Short()).Str("dest", l.dest).Msg("installed")
	res := st.result()
	res.RollbackAvailable = kept
	return res, nil
}

func deref(r *Result) Result {
	if r == nil {
		return Result{}
	}
	return *r
}
