package client

import (
	"net"
	"net/http"
	"time"

	"connectrpc.com/connect"

	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

// maxMessage bounds every message read from the server: a chunk of the
// largest size a manifest allows plus framing, like gRPC's 4 MiB default.
const maxMessage = 4 << 20

// flowWindow is the HTTP/2 receive window, per stream and per connection:
// wide enough that one stream is not throttled by round trips.
const flowWindow = 16 << 20

// maxFrame is the largest HTTP/2 frame the server may send: a whole chunk
// travels in a frame or two instead of 64 of the default 16 KiB, which cuts
// the reads and frame handling per chunk.
const maxFrame = 1 << 20

// NewHTTPClient returns the default HTTP client: unencrypted HTTP/2 (h2c) only,
// 16 MiB flow-control windows, no transparent gzip.
func NewHTTPClient() *http.Client {
	protos := new(http.Protocols)
	protos.SetUnencryptedHTTP2(true)
	tr := &http.Transport{
		Protocols:          protos,
		DisableCompression: true,
		DialContext:        (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		IdleConnTimeout:    90 * time.Second,
		HTTP2: &http.HTTP2Config{
			MaxReceiveBufferPerStream:     flowWindow,
			MaxReceiveBufferPerConnection: flowWindow,
			MaxReadFrameSize:              maxFrame,
			SendPingTimeout:               15 * time.Second,
			PingTimeout:                   15 * time.Second,
		},
	}
	return &http.Client{Transport: tr}
}

// newRPC returns the Connect client for the sidecar at base. Connect's gzip is
// refused (chunks are compressed by the server where it pays) and every
// message is bounded.
func newRPC(hc *http.Client, base string) snapsyncv1connect.SnapshotServiceClient {
	return snapsyncv1connect.NewSnapshotServiceClient(hc, base,
		connect.WithAcceptCompression("gzip", nil, nil),
		connect.WithReadMaxBytes(maxMessage),
	)
}
