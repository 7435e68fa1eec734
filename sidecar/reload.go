package sidecar

import (
	"errors"
	"fmt"

	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// reload returns the state machine of dest as the disk has it, on the
// service's first use of dest: IDLE without a record; PREPARED when the
// record says so and the staging area's state.json holds that snapshot;
// FAILED with the recorded error for a failed Prepare, with ErrRestarted
// for one the service stopped in, or with what is wrong with the area.
func (s *InstallService) reload(dest string) *destState {
	d := &destState{path: dest, state: snapsyncv1.InstallState_INSTALL_STATE_IDLE}
	rec, area, err := s.loadRecord(dest)
	if err != nil {
		d.state, d.err = snapsyncv1.InstallState_INSTALL_STATE_FAILED, err
		s.log.Warn().Err(err).Str("dest", dest).Msg("install state unreadable")
		return d
	}
	if rec == nil {
		return d
	}
	r := newRun(rec.Sources, rec.MinIndex, func(error) {})
	r.replace = rec.Replace
	close(r.done)
	d.run = r
	switch rec.State {
	case recPreparing:
		d.err = fmt.Errorf("%w: the Prepare from %v with min_index %d, started %s, did not end",
			ErrRestarted, rec.Sources, rec.MinIndex, rec.Started.Format("2006-01-02T15:04:05Z07:00"))
	case recFailed:
		d.err = rec.restoredError()
	case recPrepared:
		d.err = s.reloadPrepared(d, rec, area)
	}
	if d.prepared == nil {
		d.state, r.err = snapsyncv1.InstallState_INSTALL_STATE_FAILED, d.err
	}
	s.log.Info().Str("dest", dest).Str("state", d.state.String()).AnErr("error", d.err).Msg("install state reloaded")
	return d
}

// reloadPrepared makes d PREPARED with the snapshot rec names if the
// staging area at area holds it, and returns the error d then carries: the
// recorded one of a failed Commit, an interrupted swap's, or why nothing is
// prepared.
func (s *InstallService) reloadPrepared(d *destState, rec *record, area string) error {
	res, err := client.Staged(area, s.withinOf(d.path))
	if err != nil && !errors.Is(err, client.ErrRecoverNeeded) { // a swap Commit finishes
		return fmt.Errorf("%w for %s: snapshot %s was prepared, the staging area says: %w",
			ErrNotPrepared, d.path, rec.SnapshotID, err)
	}
	if got := res.SnapshotID.String(); got != rec.SnapshotID {
		return fmt.Errorf("%w for %s: snapshot %s was prepared, the staging area holds %s",
			ErrNotPrepared, d.path, rec.SnapshotID, got)
	}
	d.state = snapsyncv1.InstallState_INSTALL_STATE_PREPARED
	d.prepared = &client.Prepared{Result: res, AlreadyStaged: true}
	d.run.res = *d.prepared
	if err != nil {
		return err
	}
	return rec.restoredError()
}
