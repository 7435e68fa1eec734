package sidecar

import (
	"context"
	"sync"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
	"github.com/snapsync/snapsync/source/registry"
)

// RegistryService is the local RegistryService over a registry.Source: the
// node offers each checkpoint it makes of a DB the sidecar does not own.
type RegistryService struct {
	src     *registry.Source
	closing chan struct{}
	once    sync.Once
}

var _ snapsyncv1connect.RegistryServiceHandler = (*RegistryService)(nil)

// NewRegistryService returns the service registering into src.
func NewRegistryService(src *registry.Source) *RegistryService {
	return &RegistryService{src: src, closing: make(chan struct{})}
}

// RegisterCheckpoint registers the request's directory; a directory that is
// not a plain tree under the registry's root, or not newer than the one
// registered, is refused with InvalidArgument. The registry keeps only the
// newest checkpoint, so registered is 1 on success.
func (s *RegistryService) RegisterCheckpoint(ctx context.Context, req *connect.Request[snapsyncv1.RegisterCheckpointRequest]) (*connect.Response[snapsyncv1.RegisterCheckpointResponse], error) {
	m := req.Msg
	err := s.src.Register(ctx, m.GetDir(), m.GetTerm(), m.GetIndex(), m.GetLabels(), registry.ForRequest(m.GetRequestId()))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&snapsyncv1.RegisterCheckpointResponse{Registered: 1}), nil
}

// WatchCheckpointRequests streams the node every checkpoint request (a
// peer needs an index no registered checkpoint reaches) until the node
// hangs up or the service closes. It sends nothing else: HTTP/2 pings keep
// an idle stream open.
func (s *RegistryService) WatchCheckpointRequests(ctx context.Context, _ *connect.Request[snapsyncv1.WatchCheckpointRequestsRequest], stream *connect.ServerStream[snapsyncv1.WatchCheckpointRequestsResponse]) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	err := s.src.Watch(ctx, func(r registry.Request) error {
		return stream.Send(&snapsyncv1.WatchCheckpointRequestsResponse{
			Request: &snapsyncv1.CheckpointRequest{RequestId: r.ID, MinIndex: r.MinIndex}})
	})
	if err == nil || isClosed(s.closing) {
		return nil
	}
	return err
}

// Close ends every WatchCheckpointRequests stream, so a shutting-down
// server need not wait for the nodes to hang up.
func (s *RegistryService) Close() {
	s.once.Do(func() { close(s.closing) })
}

func isClosed(c chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}
