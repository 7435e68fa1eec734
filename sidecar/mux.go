package sidecar

import (
	"net/http"
	"slices"

	"connectrpc.com/connect"
	"connectrpc.com/grpchealth"
	"connectrpc.com/grpcreflect"

	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

// maxLocalRequest bounds a request to the local API: a path, a URL, labels.
const maxLocalRequest = 1 << 20

// LocalHandler serves the node-facing API: install's InstallService and
// reg's RegistryService (either may be nil: a pure leader has no installs,
// a node owning its Pebble DB registers nothing), with gRPC health and
// reflection for what is mounted. Serve it only on a listener from Listen
// without allowNonLoopback, or on a unix socket.
func LocalHandler(install *InstallService, reg *RegistryService) http.Handler {
	mux := http.NewServeMux()
	opts := []connect.HandlerOption{connect.WithReadMaxBytes(maxLocalRequest), connect.WithInterceptors(errorMapping{})}
	var names []string
	if install != nil {
		mux.Handle(snapsyncv1connect.NewInstallServiceHandler(install, opts...))
		names = append(names, snapsyncv1connect.InstallServiceName)
	}
	if reg != nil {
		mux.Handle(snapsyncv1connect.NewRegistryServiceHandler(reg, opts...))
		names = append(names, snapsyncv1connect.RegistryServiceName)
	}
	mountIntrospection(mux, names)
	return rpcOnly(mux)
}

// PeerHandler serves the peer-facing API: peer (a server.Server's Handler,
// the SnapshotService) with gRPC health and reflection. It never mounts the
// local services.
func PeerHandler(peer http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/"+snapsyncv1connect.SnapshotServiceName+"/", peer)
	mountIntrospection(mux, []string{snapsyncv1connect.SnapshotServiceName})
	return rpcOnly(mux)
}

// mountIntrospection mounts gRPC health (SERVING for each name and for the
// server as a whole) and gRPC reflection v1 and v1alpha (so grpcurl and
// similar tools find the services, the health service included).
func mountIntrospection(mux *http.ServeMux, names []string) {
	mux.Handle(grpchealth.NewHandler(grpchealth.NewStaticChecker(names...)))
	reflector := grpcreflect.NewStaticReflector(slices.Concat(names, []string{grpchealth.HealthV1ServiceName})...)
	mux.Handle(grpcreflect.NewHandlerV1(reflector))
	mux.Handle(grpcreflect.NewHandlerV1Alpha(reflector))
}
