package sidecar

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/verify"
)

// commit swaps the prepared snapshot id into dest. Once begun the swap runs
// to its end even if ctx is done (the caller then learns the outcome from
// Status or a repeated Commit, which returns the same result).
//
// replace, when given, must be the list the Prepare staged with
// (client.ErrReplaceMismatch, FAILED_PRECONDITION, otherwise); the swap
// always uses the prepared list.
//
// keepOld (or the service's Client.KeepOld) keeps what the swap replaces
// for Rollback until Finalize.
func (s *InstallService) commit(ctx context.Context, dest string, id verify.Digest, keepOld bool, replace ...string) (client.Result, error) {
	d, repeat, err := s.beginCommit(dest, id, replace)
	if err != nil {
		return client.Result{}, err
	}
	if repeat != nil {
		return *repeat, nil
	}
	type outcome struct {
		res client.Result
		err error
	}
	out := make(chan outcome, 1)
	go func() {
		defer s.wg.Done()
		res, err := s.swap(d, id, keepOld)
		out <- outcome{res, err}
	}()
	select {
	case o := <-out:
		return o.res, o.err
	case <-ctx.Done():
		return client.Result{}, context.Cause(ctx)
	}
}

// beginCommit checks that id is what is prepared for dest and moves it to
// COMMITTING; for a Commit of what was just committed it returns that
// result instead.
func (s *InstallService) beginCommit(dest string, id verify.Digest, replace []string) (*destState, *client.Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, ErrClosed
	}
	d := s.dest(dest)
	switch d.state {
	case snapsyncv1.InstallState_INSTALL_STATE_PREPARING:
		return nil, nil, fmt.Errorf("%w for %s: wait for its prepared snapshot", ErrPreparing, dest)
	case snapsyncv1.InstallState_INSTALL_STATE_COMMITTING:
		return nil, nil, fmt.Errorf("%w for %s", ErrCommitting, dest)
	case snapsyncv1.InstallState_INSTALL_STATE_PREPARED:
		if got := d.prepared.SnapshotID; got != id {
			return nil, nil, fmt.Errorf("%w: %s is not prepared for %s (prepared: %s)", ErrUnknownSnapshot, id, dest, got)
		}
		if len(replace) > 0 && !slices.Equal(replace, d.run.replace) {
			return nil, nil, fmt.Errorf("%w: commit names %q for %s, prepared with %q", client.ErrReplaceMismatch, replace, dest, d.run.replace)
		}
		d.state = snapsyncv1.InstallState_INSTALL_STATE_COMMITTING
		s.wg.Add(1)
		return d, nil, nil
	}
	if d.committed != nil && d.committed.SnapshotID == id {
		return nil, d.committed, nil
	}
	if d.state == snapsyncv1.InstallState_INSTALL_STATE_FAILED {
		return nil, nil, fmt.Errorf("%w for %s: the last Prepare failed: %w", ErrNotPrepared, dest, d.err)
	}
	return nil, nil, fmt.Errorf("%w for %s: call Prepare first", ErrNotPrepared, dest)
}

// swap runs client.Commit for d, in COMMITTING, and moves d to IDLE, or back
// to PREPARED with the error (a repeated Commit recovers an interrupted swap).
func (s *InstallService) swap(d *destState, id verify.Digest, keepOld bool) (client.Result, error) {
	log := s.log.With().Str("dest", d.path).Str("snapshot", id.Short()).Logger()
	log.Info().Msg("commit started")
	cfg := s.clientConfig(d.path)
	cfg.Replace = d.run.replace // PREPARED has its run
	cfg.KeepOld = cfg.KeepOld || keepOld
	res, err := s.commitStaged(cfg, id)
	if err != nil {
		s.saveRecord(d.path, d.run.record(recPrepared, err))
		s.mu.Lock()
		defer s.mu.Unlock()
		d.state, d.err = snapsyncv1.InstallState_INSTALL_STATE_PREPARED, err
		log.Warn().Err(err).Msg("commit failed")
		return client.Result{}, err
	}
	s.dropRecords(d.path) // the install's own went with its staging area
	s.cfg.Staged.Reset()
	if s.cfg.OnCommitted != nil {
		s.cfg.OnCommitted(d.path)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	d.state, d.run, d.prepared, d.committed, d.err = snapsyncv1.InstallState_INSTALL_STATE_IDLE, nil, nil, &res, nil
	log.Info().Uint64("term", res.Term).Uint64("index", res.Index).
		Dur("duration", res.Duration).Msg("committed")
	return res, nil
}

// commitStaged runs client.Commit once the staging area's own state.json
// says it holds id (or a swap of id that Commit finishes): what was
// prepared before a restart may have changed since.
func (s *InstallService) commitStaged(cfg client.Config, id verify.Digest) (client.Result, error) {
	cfg.EnsureDefaults()
	staged, err := client.Staged(cfg.StagingDir, client.WithinDir(cfg.Within))
	if err != nil && !errors.Is(err, client.ErrRecoverNeeded) {
		return client.Result{}, err
	}
	if staged.SnapshotID != id {
		return client.Result{}, fmt.Errorf("%w: %s was prepared for %s, the staging area holds %s",
			ErrUnknownSnapshot, id, cfg.Dest, staged.SnapshotID)
	}
	return client.Commit(s.ctx, cfg)
}
