package sidecar

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/client"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// Rollback puts back what a Commit with keep_old replaced in dest, as one
// journaled swap, and deletes what that Commit installed. The node has
// closed its DB. Nothing kept: NO_ROLLBACK.
func (s *InstallService) Rollback(ctx context.Context, req *connect.Request[snapsyncv1.RollbackRequest]) (*connect.Response[snapsyncv1.RollbackResponse], error) {
	var res client.Result
	dest, err := s.roots.resolveKept(req.Msg.GetDest())
	if err == nil {
		err = s.keptOp(ctx, dest, "rollback", func(ctx context.Context, cfg client.Config) (err error) {
			if !s.keptHere(dest) {
				return fmt.Errorf("%w for %s", client.ErrNoRollback, dest)
			}
			res, err = client.Rollback(ctx, cfg)
			return err
		})
	}
	s.auditKept(ctx, AuditRollback, req.Msg.GetDest(), res, err)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&snapsyncv1.RollbackResponse{RolledBack: infoMsg(res)}), nil
}

// Finalize deletes what a Commit with keep_old kept for dest; nothing kept
// is no error.
func (s *InstallService) Finalize(ctx context.Context, req *connect.Request[snapsyncv1.FinalizeRequest]) (*connect.Response[snapsyncv1.FinalizeResponse], error) {
	var done bool
	dest, err := s.roots.resolveKept(req.Msg.GetDest())
	if err == nil {
		err = s.keptOp(ctx, dest, "finalize", func(ctx context.Context, cfg client.Config) (err error) {
			if !s.keptHere(dest) {
				return nil // nothing kept: idempotent
			}
			done, err = client.Finalize(ctx, cfg)
			return err
		})
	}
	s.auditKept(ctx, AuditFinalize, req.Msg.GetDest(), client.Result{}, err)
	if err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&snapsyncv1.FinalizeResponse{Finalized: done}), nil
}

// keptOp runs op (Rollback or Finalize) on dest as the staging area's next
// operation, refused while a Prepare or a Commit runs for dest. Once begun,
// op runs to its end even if ctx is done, like a Commit's swap.
func (s *InstallService) keptOp(ctx context.Context, dest, what string, op func(context.Context, client.Config) error) error {
	d, prev, done, err := s.beginKept(dest)
	if err != nil {
		return err
	}
	out := make(chan error, 1)
	go func() {
		defer s.wg.Done()
		defer close(done)
		if prev != nil {
			<-prev
		}
		s.log.Info().Str("dest", dest).Msg(what)
		err := op(s.ctx, s.clientConfig(dest))
		if err == nil && what == "rollback" {
			s.mu.Lock()
			d.committed = nil // a repeated Commit of it must not claim it is installed
			s.mu.Unlock()
		}
		out <- err
	}()
	select {
	case err := <-out:
		return err
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// beginKept queues an operation on dest's staging area after the last one.
func (s *InstallService) beginKept(dest string) (d *destState, prev <-chan struct{}, done chan struct{}, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, nil, nil, ErrClosed
	}
	d = s.dest(dest)
	switch d.state {
	case snapsyncv1.InstallState_INSTALL_STATE_COMMITTING:
		return nil, nil, nil, fmt.Errorf("%w for %s", ErrCommitting, dest)
	case snapsyncv1.InstallState_INSTALL_STATE_PREPARING:
		return nil, nil, nil, fmt.Errorf("%w for %s: wait for it or Abort it first", ErrPreparing, dest)
	}
	prev, done = d.tail, make(chan struct{})
	d.tail = done
	s.wg.Add(1)
	return d, prev, done, nil
}

// keptHere reports whether a kept DB of dest may be looked for: always,
// except for an allowed root, which is only ever a set install's
// directory, so only its set rollback area inside it counts (a whole-dest
// rollback area would lie outside the root).
func (s *InstallService) keptHere(dest string) bool {
	if !s.roots.isRoot(dest) {
		return true
	}
	fi, err := os.Lstat(filepath.Join(dest, client.SetStagingName+client.RollbackSuffix))
	return err == nil && fi.IsDir()
}

// kept reports what a Commit with keep_old kept for dest, for Status.
func (s *InstallService) kept(dest string) (client.Kept, bool) {
	if !s.keptHere(dest) {
		return client.Kept{}, false
	}
	k, ok, err := client.KeptFor(s.clientConfig(dest))
	if err != nil {
		s.log.Warn().Err(err).Str("dest", dest).Msg("read rollback record")
	}
	return k, ok
}
