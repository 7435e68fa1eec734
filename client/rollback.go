package client

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/snapsync/snapsync/internal/durable"
	"github.com/snapsync/snapsync/swap"
)

// A Commit with Config.KeepOld keeps what it replaced in a rollback area
// (the staging area's path + RollbackSuffix: beside Dest, or inside Dest for
// a set install), until Finalize deletes it or Rollback puts it back:
//
//	rollback.json   the kept record: the installed snapshot, and the
//	                identity of every entry installed and kept
//	old/            the replaced tree (a set install: the replaced entries)
//	swap.journal    while Rollback swaps old/ back (package swap)
//
// The record is written before old/ moves in and removed before old/ is
// deleted, so an area without a record is debris to delete, never a tree to
// put back. The area is under the staging area's rules (mode 0700, this
// process's uid, no symlink followed) and its lock.

// RollbackSuffix names the rollback area: the staging area's path plus it.
const RollbackSuffix = ".rollback"

var (
	// ErrRollbackPending reports a Commit while what an earlier Commit with
	// KeepOld replaced is still kept: Finalize or Rollback first.
	ErrRollbackPending = errors.New("client: an earlier commit's old DB is still kept; finalize or roll back first")
	// ErrNoRollback reports a Rollback with nothing kept to put back.
	ErrNoRollback = errors.New("client: nothing kept to roll back")
)

// Kept describes what a Commit with KeepOld kept.
type Kept struct {
	// Snapshot is the installed snapshot, which Rollback would remove.
	Snapshot Result
}

// keptPaths names the files of the rollback area of l.
type keptPaths struct{ root, record, old, journal string }

func (l layout) kept() keptPaths {
	r := l.root + RollbackSuffix
	return keptPaths{root: r, record: filepath.Join(r, "rollback.json"), old: filepath.Join(r, "old"),
		journal: filepath.Join(r, "swap.journal")}
}

// rollbackConfig aims cfg at the rollback area of a set install in Dest
// when cfg lists no names but such an area exists (Rollback, Finalize and
// Status are told only Dest).
func rollbackConfig(cfg Config) Config {
	cfg, _ = setAreaConfigBy(cfg, RollbackSuffix)
	return cfg
}

// KeptFor reports what a Commit with KeepOld kept for cfg.Dest, reading the
// record without a lock and changing nothing; ok is false when nothing is
// kept.
func KeptFor(cfg Config) (k Kept, ok bool, err error) {
	if err := setup(&cfg); err != nil {
		return Kept{}, false, err
	}
	cfg = rollbackConfig(cfg)
	a, err := openArea(cfg.StagingDir+RollbackSuffix, false, []AreaOption{WithinDir(cfg.Within)})
	if errors.Is(err, fs.ErrNotExist) {
		return Kept{}, false, nil
	}
	if err != nil {
		return Kept{}, false, err
	}
	defer a.close()
	l := newLayout(&cfg)
	l.fs = a.l.fs
	rec, err := readKept(l)
	if err != nil || rec == nil {
		return Kept{}, false, err
	}
	return Kept{Snapshot: rec.Snapshot.result()}, true, nil
}

// keepOld moves the old tree (or the old entries of a set install), which
// the swap left at old, into the rollback area, after recording it, and
// reports whether anything is kept. It is called again after a crash with
// old wherever the tree is then; once the tree is in the area, old is "" or
// gone.
func keepOld(ctx context.Context, cfg *Config, l layout, st *state, old string) (kept bool, err error) {
	kp := l.kept()
	var rec *keptRecord
	if ok, err := checkKeptArea(l); err != nil {
		return false, err
	} else if ok {
		if rec, err = readKept(l); err != nil {
			return false, err
		}
	}
	if rec != nil && rec.Snapshot.SnapshotID != st.SnapshotID {
		return false, fmt.Errorf("%w: %s keeps %s", ErrRollbackPending, kp.root, rec.Snapshot.SnapshotID)
	}
	present := old != ""
	if present {
		if _, err := l.fs.Lstat(old); errors.Is(err, fs.ErrNotExist) {
			present = false
		} else if err != nil {
			return false, fmt.Errorf("stat old tree: %w", err)
		}
	}
	if rec == nil {
		if present {
			rec, err = newKept(l, st, old)
		}
		if err != nil || rec == nil {
			return false, err // nothing was replaced (a new dest, or none of a set's names): nothing to keep
		}
		if err := ensureKeptArea(l); err != nil {
			return false, err
		}
		if err := writeKept(l, rec); err != nil {
			return false, err
		}
		if err := callHook(cfg.Hook, "kept-recorded"); err != nil {
			return false, err
		}
	}
	if present {
		if err := l.fs.Rename(old, kp.old); err != nil {
			return false, fmt.Errorf("keep old tree: %w", err)
		}
		for _, d := range uniq(filepath.Dir(old), kp.root) {
			if err := l.fs.SyncDir(d); err != nil {
				return false, err
			}
		}
	}
	cfg.Logger.Info().Str("kept", kp.old).Str("dest", l.dest).Msg("old DB kept for rollback")
	return true, callHook(cfg.Hook, "old-kept")
}

func uniq(a, b string) []string {
	if a == b {
		return []string{a}
	}
	return []string{a, b}
}

// ensureKeptArea creates the rollback area (mode 0700) or checks the one
// there is this process's own, as the staging area is checked.
func ensureKeptArea(l layout) error {
	root := l.kept().root
	if err := l.fs.Mkdir(root, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create rollback area: %w", err)
	}
	info, err := l.fs.Lstat(root)
	if err != nil {
		return fmt.Errorf("stat rollback area: %w", err)
	}
	if err := checkArea(root, info, os.Geteuid()); err != nil {
		return err
	}
	return l.fs.SyncDir(filepath.Dir(root))
}

// checkKeptArea reports whether l's rollback area exists, refusing one
// this process does not control alone (a symlink, another uid's, group- or
// world-writable: someone else made it, and it is never used or removed).
func checkKeptArea(l layout) (bool, error) {
	root := l.kept().root
	info, err := l.fs.Lstat(root)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("stat rollback area: %w", err)
	}
	return true, checkArea(root, info, os.Geteuid())
}

// refusePending is Commit's check: ErrRollbackPending while a record is
// kept; a record-less area (debris of a Finalize or Rollback) is removed.
func refusePending(ctx context.Context, l layout) error {
	if ok, err := checkKeptArea(l); err != nil || !ok {
		return err
	}
	rec, err := readKept(l)
	if err != nil || rec != nil {
		if err == nil {
			err = fmt.Errorf("%w (%s keeps the DB that %s replaced)", ErrRollbackPending, l.kept().root, rec.Snapshot.SnapshotID)
		}
		return err
	}
	return dropKeptArea(ctx, l)
}

// dropKeptArea removes a rollback area that holds no record.
func dropKeptArea(ctx context.Context, l layout) error {
	if err := removeTree(ctx, l.fs, l.kept().root); err != nil {
		return fmt.Errorf("remove rollback area: %w", err)
	}
	return nil
}

// Rollback puts back what the last Commit with KeepOld replaced in
// cfg.Dest, as one journaled swap (package swap: the destination is at
// every instant the installed DB or the kept one, whole), then deletes the
// entries that Commit installed. It returns the snapshot that was removed.
// A Rollback interrupted by a crash is finished by the next Rollback (or
// undone by a Finalize, whose swap recovery rolls it back first). Nothing
// kept: ErrNoRollback. The caller has closed the DB.
//
// Without Config.Replace it finds the rollback area of a set install in
// Dest by itself.
func Rollback(ctx context.Context, cfg Config) (Result, error) {
	if err := setup(&cfg); err != nil {
		return Result{}, err
	}
	cfg = rollbackConfig(cfg)
	l, unlock, err := lockRecovered(ctx, &cfg)
	if err != nil {
		return Result{}, err
	}
	defer unlock()
	rec, err := recoverKept(ctx, &cfg, l)
	if err != nil {
		return Result{}, err
	}
	if rec == nil {
		if err := dropKeptArea(ctx, l); err != nil {
			return Result{}, err
		}
		if err := removeIdleArea(ctx, l); err != nil {
			return Result{}, err
		}
		return Result{}, fmt.Errorf("%w for %s", ErrNoRollback, l.dest)
	}
	res := rec.Snapshot.result()
	where, err := rec.locate(l)
	if err != nil {
		return Result{}, err
	}
	if where == keptChanged {
		return Result{}, rec.changedError(l)
	}
	if where == keptInstalled {
		if err := swapBack(ctx, &cfg, l, rec); err != nil {
			return Result{}, fmt.Errorf("roll back: %w", err)
		}
	}
	if err := finishRollback(ctx, &cfg, l); err != nil {
		return Result{}, err
	}
	cfg.Logger.Info().Str("dest", l.dest).Str("snapshot", res.SnapshotID.Short()).Msg("rolled back")
	return res, nil
}

// Finalize deletes what the last Commit with KeepOld kept for cfg.Dest:
// the record first, so that a crash part-way leaves debris, never a tree
// Rollback would put back. It reports whether anything was kept; nothing
// kept is no error. A Rollback interrupted by a crash before its swap was
// done is undone first (package swap's recovery): Finalize keeps the
// installed DB. One whose swap was done is finished instead, and Finalize
// fails with ErrNoRollback saying so: the kept DB is in place.
func Finalize(ctx context.Context, cfg Config) (bool, error) {
	if err := setup(&cfg); err != nil {
		return false, err
	}
	cfg = rollbackConfig(cfg)
	l, unlock, err := lockRecovered(ctx, &cfg)
	if err != nil {
		return false, err
	}
	defer unlock()
	rec, err := recoverKept(ctx, &cfg, l)
	if err != nil || rec == nil {
		if err == nil {
			err = errors.Join(dropKeptArea(ctx, l), removeIdleArea(ctx, l))
		}
		return false, err
	}
	// Finalize keeps whatever Dest holds now (the node has run on it): only a
	// rollback already swapped in stops it.
	if where, err := rec.locate(l); err != nil {
		return false, err
	} else if where == keptRestored {
		if err := finishRollback(ctx, &cfg, l); err != nil {
			return false, err
		}
		return false, fmt.Errorf("%w: a rollback of %s was done before Finalize; the kept DB is in place", ErrNoRollback, l.dest)
	}
	if err := durable.Remove(l.fs, l.kept().record); err != nil {
		return false, err
	}
	if err := callHook(cfg.Hook, "kept-unrecorded"); err != nil {
		return false, err
	}
	if err := dropKeptArea(ctx, l); err != nil {
		return false, err
	}
	if err := removeIdleArea(ctx, l); err != nil {
		return true, err
	}
	cfg.Logger.Info().Str("dest", l.dest).Str("snapshot", rec.Snapshot.id().Short()).Msg("finalized: kept DB deleted")
	return true, nil
}

// lockRecovered finishes a Commit a crash cut short (which keeps its old
// tree first: keep_old is in its state), under the staging area's lock,
// then takes the lock again for the caller. The recovery of a finished swap
// removes the staging area, lock file included, so the lock it held is not
// the one a later locker would take; the second lockArea makes sure the
// caller holds the lock of the area as it now is.
func lockRecovered(ctx context.Context, cfg *Config) (layout, func(), error) {
	l := newLayout(cfg)
	unlock, err := lockArea(&l)
	if err != nil {
		return layout{}, nil, err
	}
	_, _, err = recoverLocked(ctx, cfg, l)
	unlock()
	if err != nil {
		return layout{}, nil, err
	}
	l = newLayout(cfg)
	unlock, err = lockArea(&l)
	if err != nil {
		return layout{}, nil, err
	}
	return l, unlock, nil
}

// recoverKept finishes or undoes a Rollback's swap that a crash cut short,
// then reads the record.
func recoverKept(ctx context.Context, cfg *Config, l layout) (*keptRecord, error) {
	kp := l.kept()
	if ok, err := checkKeptArea(l); err != nil || !ok {
		return nil, err
	}
	out, err := swap.Recover(ctx, kp.journal, swap.Options{FS: l.fs, Hook: cfg.Hook, Logger: cfg.Logger})
	if err != nil {
		return nil, fmt.Errorf("recover rollback swap: %w", err)
	}
	if out != swap.Nothing {
		cfg.Logger.Info().Str("outcome", out.String()).Msg("recovered an interrupted rollback swap")
	}
	return readKept(l)
}

// swapBack swaps the kept tree (or entries) into Dest; the installed one
// goes where package swap leaves a replaced tree.
func swapBack(ctx context.Context, cfg *Config, l layout, rec *keptRecord) error {
	kp := l.kept()
	o := swap.Options{FS: l.fs, Hook: cfg.Hook, Logger: cfg.Logger}
	var err error
	if rec.Set {
		_, err = swap.ReplaceSet(ctx, l.dest, kp.old, rec.Names, kp.journal, o)
	} else {
		_, err = swap.Replace(ctx, l.dest, kp.old, kp.journal, o)
	}
	return err
}

// finishRollback deletes the installed tree (now in the rollback area, or
// where a journaled pair of renames parked it), the follower digest cache
// (it describes the installed files), then the record and the area.
func finishRollback(ctx context.Context, cfg *Config, l layout) error {
	kp := l.kept()
	installed := []string{kp.old, kp.old + ".swap-old"} // an exchange leaves it in old/, a set's pairs in the park
	if !l.set {
		installed = append(installed, l.pairOld()) // a whole-dest pair parks it beside Dest
	}
	for _, p := range installed {
		if err := removeTree(ctx, l.fs, p); err != nil {
			return fmt.Errorf("remove installed tree: %w", err)
		}
	}
	if err := callHook(cfg.Hook, "installed-removed"); err != nil {
		return err
	}
	if !l.set {
		if err := durable.Remove(l.fs, l.cachePath()); err != nil {
			return fmt.Errorf("remove digest cache: %w", err)
		}
	}
	if err := durable.Remove(l.fs, kp.record); err != nil {
		return err
	}
	if err := dropKeptArea(ctx, l); err != nil {
		return err
	}
	return removeIdleArea(ctx, l)
}

// removeIdleArea removes the staging area that Rollback and Finalize took
// the lock of, when it holds nothing but the lock (no install uses it).
func removeIdleArea(ctx context.Context, l layout) error {
	des, err := l.fs.ReadDir(l.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // a recovered Commit removed it
	}
	if err != nil {
		return fmt.Errorf("list staging area: %w", err)
	}
	for _, de := range des {
		if de.Name() != filepath.Base(l.lock) {
			return nil
		}
	}
	return removeTree(ctx, l.fs, l.root)
}
