package client

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/internal/testwait"
	snapsyncv1 "github.com/snapsync/snapsync/proto/gen/snapsync/v1"
	"github.com/snapsync/snapsync/server"
)

// TestHTTPClientProtocols: FetchChunks travels on HTTP/1.1 and the other
// RPCs on HTTP/2, and CloseIdleConnections closes the connections of both.
func TestHTTPClientProtocols(t *testing.T) {
	protos := make(chan string, 16)
	var closed atomic.Int32
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		protos <- r.URL.Path + " " + r.Proto
		http.Error(w, "no", http.StatusNotFound)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := server.NewHTTPServer(h)
	hs.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateClosed {
			closed.Add(1)
		}
	}
	go func() { _ = hs.Serve(ln) }()
	defer hs.Close()
	hc := NewHTTPClient()
	rpc := newRPC(hc, "http://"+ln.Addr().String())
	ctx := context.Background()
	_, _ = rpc.Probe(ctx, connect.NewRequest(&snapsyncv1.ProbeRequest{}))
	if st, err := rpc.FetchChunks(ctx, connect.NewRequest(&snapsyncv1.FetchChunksRequest{})); err == nil {
		for st.Receive() {
		}
		_ = st.Close()
	}
	got := map[string]bool{<-protos: true, <-protos: true}
	for _, want := range []string{
		"/snapsync.v1.SnapshotService/Probe HTTP/2.0",
		"/snapsync.v1.SnapshotService/FetchChunks HTTP/1.1",
	} {
		if !got[want] {
			t.Errorf("requests %v, want %q among them", got, want)
		}
	}
	hc.CloseIdleConnections()
	testwait.Eventually(t, 5*time.Second, func() (bool, string) {
		n := closed.Load()
		return n >= 2, fmt.Sprintf("%d connections closed after CloseIdleConnections, want both", n)
	})
}
