package client

import (
	"context"
	"net"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/jonboulle/clockwork"

	"github.com/snapsync/snapsync/auth"
	"github.com/snapsync/snapsync/internal/rpccodec"
	"github.com/snapsync/snapsync/internal/stall"
	"github.com/snapsync/snapsync/proto/gen/snapsync/v1/snapsyncv1connect"
)

// maxMessage bounds every message read from the server: a chunk of the
// largest size a manifest allows plus framing, like gRPC's 4 MiB default.
const maxMessage = 4 << 20

// The receive windows bound what the server may send ahead of what the
// client has verified and written: the bytes a killed install fetches again.
// Two chunks a stream keep a stream busy across a round trip (4 streams x
// 2 MiB / 50 ms of RTT is 160 MB/s). A chunk stream's window is its TCP
// receive buffer (SO_RCVBUF, which also stops the kernel growing it); the
// HTTP/2 connection's window caps the other RPCs.
const (
	streamWindow     = 2 << 20
	connectionWindow = 8 << 20
)

// maxFrame is the largest HTTP/2 frame the server may send: a whole chunk
// travels in a frame or two instead of 64 of the default 16 KiB, which cuts
// the reads and frame handling per chunk.
const maxFrame = 1 << 20

// HTTPOption configures NewHTTPClient.
type HTTPOption func(*httpOptions)

type httpOptions struct {
	dial  func(ctx context.Context, network, addr string) (net.Conn, error)
	tls   *auth.ClientTLS
	token *auth.Token
}

// WithTLS makes https:// sources use c: its CA bundle, its client certificate
// (mutual TLS) and its allowed peer names. Without it https:// uses the
// system roots and the host's name.
func WithTLS(c *auth.ClientTLS) HTTPOption { return func(o *httpOptions) { o.tls = c } }

// WithDialer makes every connection with dial instead of over TCP: an
// in-process server (package internal/inproc) is reached so, with no
// socket. TLS options do not apply to such connections.
func WithDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error)) HTTPOption {
	return func(o *httpOptions) { o.dial = dial }
}

// WithToken sends t as "Authorization: Bearer" on every call.
func WithToken(t *auth.Token) HTTPOption { return func(o *httpOptions) { o.token = t } }

// NewHTTPClient returns the HTTP client of installs: chunk streams
// (FetchChunks) over HTTP/1.1, a connection each, and every other RPC over
// HTTP/2 (TLS for https://, unencrypted h2c for http://), with 2 MiB
// flow-control windows a stream and 8 MiB a connection, pings that find a
// dead peer within 30 s, and no transparent gzip. Why two protocols: over
// HTTP/2 every chunk byte is copied twice more on the client (into and out
// of the stream's receive buffer) and each read of a stream sends a
// WINDOW_UPDATE; measured here, HTTP/1.1 chunk streams make a full install
// about 15% faster. An HTTP/1.1 stream's unread bytes are bounded by its
// socket's receive buffer (streamWindow), its silence by the stall watchdog
// and TCP keepalives.
func NewHTTPClient(opts ...HTTPOption) *http.Client {
	var o httpOptions
	for _, opt := range opts {
		opt(&o)
	}
	h2 := new(http.Protocols)
	h2.SetUnencryptedHTTP2(true)
	h2.SetHTTP2(true)
	dial := (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	rpcs := &http.Transport{
		Protocols:          h2,
		DisableCompression: true,
		DialContext:        dial,
		IdleConnTimeout:    90 * time.Second,
		HTTP2: &http.HTTP2Config{
			MaxReceiveBufferPerStream:     streamWindow,
			MaxReceiveBufferPerConnection: connectionWindow,
			MaxReadFrameSize:              maxFrame,
			SendPingTimeout:               15 * time.Second,
			PingTimeout:                   15 * time.Second,
		},
	}
	h1 := new(http.Protocols)
	h1.SetHTTP1(true)
	chunkDialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second, Control: limitReceiveBuffer}
	chunks := &http.Transport{
		Protocols:           h1,
		DisableCompression:  true,
		DialContext:         chunkDialer.DialContext,
		IdleConnTimeout:     90 * time.Second,
		MaxIdleConnsPerHost: 64, // one per stream, kept for the next install
		ReadBufferSize:      64 << 10,
		WriteBufferSize:     16 << 10,
	}
	if o.dial != nil {
		rpcs.DialContext, chunks.DialContext = o.dial, o.dial
	}
	if o.tls != nil {
		rpcs.DialTLSContext = o.tls.DialTLSContext
		chunks.DialTLSContext = o.tls.DialerHTTP1(limitReceiveBuffer)
	}
	var rt http.RoundTripper = byProcedure{chunks: chunks, rpcs: rpcs}
	if o.token != nil {
		rt = auth.Bearer(rt, o.token)
	}
	return &http.Client{Transport: rt}
}

// byProcedure sends FetchChunks calls on chunks and every other request on
// rpcs.
type byProcedure struct{ chunks, rpcs *http.Transport }

// CloseIdleConnections closes the idle connections of both transports.
func (b byProcedure) CloseIdleConnections() {
	b.chunks.CloseIdleConnections()
	b.rpcs.CloseIdleConnections()
}

func (b byProcedure) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, snapsyncv1connect.SnapshotServiceFetchChunksProcedure) {
		return b.chunks.RoundTrip(req)
	}
	return b.rpcs.RoundTrip(req)
}

// withStall returns hc with every request bounded by progress: one whose
// response brings nothing for limit fails with ErrStalled.
func withStall(hc *http.Client, limit time.Duration, clock clockwork.Clock) *http.Client {
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c := *hc
	c.Transport = &stall.Transport{Base: base, Limit: limit, Clock: clock}
	return &c
}

// newRPC returns the Connect client for the sidecar at base. Connect's gzip is
// refused (chunks are compressed by the server where it pays) and every
// message is bounded. A FetchChunks call whose context carries an
// rpccodec.Direct receives its chunks through it (fetcher.call).
func newRPC(hc *http.Client, base string) snapsyncv1connect.SnapshotServiceClient {
	rt := hc.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c := *hc
	c.Transport = rpccodec.DirectTransport{Base: rt}
	return snapsyncv1connect.NewSnapshotServiceClient(&c, base,
		connect.WithAcceptCompression("gzip", nil, nil),
		connect.WithReadMaxBytes(maxMessage),
		connect.WithCodec(rpccodec.Codec{}), // chunks decode into a reused buffer
	)
}
