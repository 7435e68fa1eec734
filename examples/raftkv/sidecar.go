package raftkv

import (
	"context"
	"net/http"

	"connectrpc.com/connect"

	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

// sidecar is what the node asks of its local snapsync sidecar.
type sidecar interface {
	Prepare(context.Context, *connect.Request[snapsyncv1.PrepareRequest]) (*connect.ServerStreamForClient[snapsyncv1.PrepareResponse], error)
	Commit(context.Context, *connect.Request[snapsyncv1.CommitRequest]) (*connect.Response[snapsyncv1.CommitResponse], error)
	RegisterCheckpoint(context.Context, *connect.Request[snapsyncv1.RegisterCheckpointRequest]) (*connect.Response[snapsyncv1.RegisterCheckpointResponse], error)
	WatchCheckpointRequests(context.Context, *connect.Request[snapsyncv1.WatchCheckpointRequestsRequest]) (*connect.ServerStreamForClient[snapsyncv1.WatchCheckpointRequestsResponse], error)
}

// sidecarClient is the local API of a sidecar: its InstallService and its
// RegistryService, at one URL.
type sidecarClient struct {
	snapsyncv1connect.InstallServiceClient
	snapsyncv1connect.RegistryServiceClient
}

var _ sidecar = sidecarClient{}

// newSidecarClient returns the clients of the local API at baseURL.
func newSidecarClient(hc *http.Client, baseURL string) sidecarClient {
	return sidecarClient{
		InstallServiceClient:  snapsyncv1connect.NewInstallServiceClient(hc, baseURL),
		RegistryServiceClient: snapsyncv1connect.NewRegistryServiceClient(hc, baseURL),
	}
}
