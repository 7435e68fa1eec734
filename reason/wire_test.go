package reason_test

import (
	"context"
	"errors"
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/emptypb"

	"github.com/snapsync/snapsync/reason"
)

// procedure is the one method of the test's Connect service.
const procedure = "/snapsync.test.v1.Fail/Fail"

// TestEveryReasonCrossesTheWire returns each reason of All() from a real
// Connect handler over HTTP/2 and TLS on 127.0.0.1: the client, in each
// protocol, reads back its code, its reason and its metadata, and no reason
// for a plain error.
func TestEveryReasonCrossesTheWire(t *testing.T) {
	t.Parallel()
	md := map[string]string{reason.MetaMinIndex: "42", reason.MetaNewestIndex: "41"}
	fail := map[string]error{}
	for _, info := range reason.All() {
		fail[info.Name] = reason.New(info.Code, errors.New("because "+info.Name), info.Name, md)
	}
	fail["plain"] = connect.NewError(connect.CodeInternal, errors.New("no reason"))
	mux := http.NewServeMux()
	mux.Handle(procedure, connect.NewUnaryHandler(procedure,
		func(_ context.Context, req *connect.Request[emptypb.Empty]) (*connect.Response[emptypb.Empty], error) {
			return nil, fail[req.Header().Get("Fail")]
		}))
	srv := httptest.NewUnstartedServer(mux)
	srv.EnableHTTP2 = true // for gRPC
	srv.StartTLS()
	t.Cleanup(srv.Close)
	for _, proto := range []struct {
		name string
		opts []connect.ClientOption
	}{
		{"connect", nil},
		{"grpc", []connect.ClientOption{connect.WithGRPC()}},
		{"grpc-web", []connect.ClientOption{connect.WithGRPCWeb()}},
	} {
		client := connect.NewClient[emptypb.Empty, emptypb.Empty](srv.Client(), srv.URL+procedure, proto.opts...)
		call := func(name string) error {
			req := connect.NewRequest(&emptypb.Empty{})
			req.Header().Set("Fail", name)
			_, err := client.CallUnary(t.Context(), req)
			return err
		}
		for _, info := range reason.All() {
			t.Run(proto.name+"/"+info.Name, func(t *testing.T) {
				t.Parallel()
				err := call(info.Name)
				if got := connect.CodeOf(err); got != info.Code {
					t.Errorf("code %v; want %v (%v)", got, info.Code, err)
				}
				r, gotMD, ok := reason.Of(err)
				if !ok || r != info.Name || !maps.Equal(gotMD, md) {
					t.Fatalf("reason.Of = %q, %v, %v; want %q, %v (%v)", r, gotMD, ok, info.Name, md, err)
				}
				if !reason.Is(err, info.Name) {
					t.Errorf("reason.Is(%s) = false", info.Name)
				}
			})
		}
		t.Run(proto.name+"/plain", func(t *testing.T) {
			t.Parallel()
			if r, _, ok := reason.Of(call("plain")); ok {
				t.Fatalf("reason.Of a plain error = %q", r)
			}
		})
	}
}
