package sidecar

import (
	"fmt"
	"net/http"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// rpcOnly serves mux, answering a call to a service or method that mux does
// not serve as the caller's protocol expects: gRPC status UNIMPLEMENTED with
// a gRPC content type (Connect: unimplemented), not an HTTP 404 in
// text/plain, which grpc-java reports as "invalid content-type".
func rpcOnly(mux *http.ServeMux) http.Handler {
	ew := connect.NewErrorWriter()
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern != "" && knownMethod(r.URL.Path) {
			mux.ServeHTTP(w, r)
			return
		}
		// A Connect GET carries its encoding in the query; any other GET is
		// a browser or a probe: a plain 404 it can read.
		rpc := r.Method == http.MethodPost || r.URL.Query().Has("encoding")
		if !rpc || !ew.IsSupported(r) {
			http.NotFound(w, r)
			return
		}
		err := connect.NewError(connect.CodeUnimplemented, fmt.Errorf("%s is not served on this listener", r.URL.Path))
		_ = ew.Write(w, r, err) // the caller is gone if this fails
	})
}

// knownMethod reports whether path, "/package.Service/Method", of a service
// mounted on the listener names one of its methods. A service whose
// descriptor this binary lacks in the global registry (health and reflection
// register theirs elsewhere) is trusted to answer its own unknown methods.
func knownMethod(path string) bool {
	service, method, ok := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	if !ok {
		return false
	}
	d, err := protoregistry.GlobalFiles.FindDescriptorByName(protoreflect.FullName(service))
	if err != nil {
		return true
	}
	sd, ok := d.(protoreflect.ServiceDescriptor)
	return ok && sd.Methods().ByName(protoreflect.Name(method)) != nil
}
