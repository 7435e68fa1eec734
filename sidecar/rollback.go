package sidecar

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
)

// Rollback puts back what a Commit with keep_old replaced.
func (s *InstallService) Rollback(ctx context.Context, req *connect.Request[snapsyncv1.RollbackRequest]) (*connect.Response[snapsyncv1.RollbackResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errors.New("rollback: not yet"))
}

// Finalize deletes what a Commit with keep_old kept.
func (s *InstallService) Finalize(ctx context.Context, req *connect.Request[snapsyncv1.FinalizeRequest]) (*connect.Response[snapsyncv1.FinalizeResponse], error) {
	return nil, connect.NewError(connect.CodeUnimplemented, errors.New("finalize: not yet"))
}
