package sidecar

import (
	"context"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/source/registry"
)

// RegistryService is the local RegistryService over a registry.Source: the
// node offers each checkpoint it makes of a DB the sidecar does not own.
type RegistryService struct {
	src *registry.Source
}

var _ snapsyncv1connect.RegistryServiceHandler = (*RegistryService)(nil)

// NewRegistryService returns the service registering into src.
func NewRegistryService(src *registry.Source) *RegistryService {
	return &RegistryService{src: src}
}

// RegisterCheckpoint registers the request's directory; a directory that is
// not a plain tree under the registry's root, or not newer than the one
// registered, is refused with InvalidArgument. The registry keeps only the
// newest checkpoint, so registered is 1 on success.
func (s *RegistryService) RegisterCheckpoint(ctx context.Context, req *connect.Request[snapsyncv1.RegisterCheckpointRequest]) (*connect.Response[snapsyncv1.RegisterCheckpointResponse], error) {
	m := req.Msg
	if err := s.src.Register(ctx, m.GetDir(), m.GetTerm(), m.GetIndex(), m.GetLabels()); err != nil {
		return nil, toConnect(err)
	}
	return connect.NewResponse(&snapsyncv1.RegisterCheckpointResponse{Registered: 1}), nil
}
