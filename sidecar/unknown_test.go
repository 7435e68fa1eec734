package sidecar

import (
	"bytes"
	"io"
	"net/http"
	"testing"

	"github.com/snapsync/snapsync/server"
)

// TestUnknownProcedures: a gRPC call to a service or method a listener does
// not serve gets a gRPC-shaped answer (HTTP 200, a gRPC content type,
// grpc-status 12 UNIMPLEMENTED), which every gRPC client reads as
// "unimplemented", on both listeners; a plain GET still gets a 404.
func TestUnknownProcedures(t *testing.T) {
	t.Parallel()
	p := startPeer(t, server.Config{Source: openLeader(t, 1<<20)})
	l := startLocal(t, InstallConfig{}, nil)
	var protos http.Protocols
	protos.SetUnencryptedHTTP2(true)
	hc := &http.Client{Transport: &http.Transport{Protocols: &protos}}
	testCases := []struct{ name, base, path string }{
		{"peer: unknown service", p.url, "/nope.v1.Nope/Call"},
		{"peer: unknown method", p.url, "/snapsync.v1.SnapshotService/Nope"},
		{"peer: a local service", p.url, "/snapsync.v1.InstallService/Status"},
		{"local: unknown service", l.url, "/nope.v1.Nope/Call"},
		{"local: unknown method", l.url, "/snapsync.v1.InstallService/Nope"},
		{"local: the peer service", l.url, "/snapsync.v1.SnapshotService/CreateSnapshot"},
	}
	for _, tc := range testCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			req, err := http.NewRequest(http.MethodPost, tc.base+tc.path, bytes.NewReader(make([]byte, 5))) // one empty message
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "application/grpc")
			req.Header.Set("Te", "trailers")
			res, err := hc.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, res.Body) // the trailers follow the body
			res.Body.Close()
			status := res.Header.Get("Grpc-Status") + res.Trailer.Get("Grpc-Status")
			if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "application/grpc" || status != "12" {
				t.Fatalf("HTTP %d, content type %q, grpc-status %q; want 200, application/grpc, 12",
					res.StatusCode, res.Header.Get("Content-Type"), status)
			}
		})
	}
	res, err := hc.Get(p.url + "/nope")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Fatalf("GET /nope: HTTP %d, want 404", res.StatusCode)
	}
}
