package sidecar

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// abort stops a running Prepare for dest, waits for it, and gives the
// staging area back (or keeps it), leaving dest IDLE.
func (s *InstallService) abort(ctx context.Context, dest string, keep bool) (err error) {
	d, prev, done, err := s.beginAbort(dest, keep)
	if err != nil {
		return err
	}
	defer func() { s.endAbort(d, prev, done, err) }()
	if prev != nil {
		select {
		case <-prev:
		case <-ctx.Done():
			return context.Cause(ctx)
		}
	}
	cfg := s.clientConfig(dest)
	cfg.EnsureDefaults()
	_, err = os.Lstat(cfg.StagingDir)
	_, serr := os.Lstat(filepath.Join(dest, client.SetStagingName)) // a set install's (client.Abort finds it)
	if errors.Is(err, fs.ErrNotExist) && errors.Is(serr, fs.ErrNotExist) {
		return nil // nothing staged, no swap to recover
	}
	s.log.Info().Str("dest", dest).Bool("keep_staging", keep).Msg("abort")
	if err := client.Abort(ctx, cfg, keep); err != nil {
		return err
	}
	s.cfg.Staged.Reset()
	s.dropRecords(dest) // IDLE has none
	return nil
}

// beginAbort cancels a running Prepare and moves dest to IDLE at once; the
// abort is the staging area's next operation, after prev.
func (s *InstallService) beginAbort(dest string, keep bool) (d *destState, prev <-chan struct{}, done chan struct{}, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, nil, ErrClosed
	}
	d = s.dest(dest)
	if d.state == snapsyncv1.InstallState_INSTALL_STATE_COMMITTING {
		return nil, nil, nil, fmt.Errorf("%w for %s", ErrCommitting, dest)
	}
	if d.state == snapsyncv1.InstallState_INSTALL_STATE_PREPARING {
		d.run.cancel(fmt.Errorf("%w by Abort (keep_staging=%t)", ErrAborted, keep))
	}
	prev, done = d.tail, make(chan struct{})
	d.tail = done
	d.run, d.state, d.prepared, d.err = nil, snapsyncv1.InstallState_INSTALL_STATE_IDLE, nil, nil
	s.wg.Add(1)
	return d, prev, done, nil
}

// endAbort records err unless another operation followed, and releases the
// next operation once prev has ended too.
func (s *InstallService) endAbort(d *destState, prev <-chan struct{}, done chan struct{}, err error) {
	s.mu.Lock()
	if err != nil && d.tail == done {
		d.err = err
	}
	s.mu.Unlock()
	go func() { // an abort cut short by its caller still waits for prev
		if prev != nil {
			<-prev
		}
		close(done)
		s.wg.Done()
	}()
}
