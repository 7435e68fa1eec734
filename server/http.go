package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// HTTP tuning: 16 MiB HTTP/2 windows keep a stream of 1 MiB chunks from
// stalling on flow control; shutdownGrace bounds how long Serve waits for
// running requests once its context is done.
// A connection idle for pingAfter is pinged; one that does not answer
// within pingTimeout is closed, so a dead peer does not hold a stream (and
// its lease and stream slot) open.
const (
	http2Window       = 16 << 20
	http2MaxFrame     = 1 << 20
	readHeaderTimeout = 10 * time.Second
	shutdownGrace     = 5 * time.Second
	pingAfter         = 15 * time.Second
	pingTimeout       = 15 * time.Second
	// deadPeerTimeout: a TCP connection whose sent data stays unacknowledged
	// this long is closed (TCP_USER_TIMEOUT). HTTP/1.1 chunk streams have
	// no pings: without it, a stream to a follower that lost power would
	// block in a write, holding its stream slot and lease, until TCP gives up
	// after about 15 minutes.
	deadPeerTimeout = 60 * time.Second
)

// NewHTTPServer returns an http.Server for h that speaks HTTP/1.1 and
// unencrypted HTTP/2 (h2c), with 16 MiB HTTP/2 receive windows and pings
// that find dead peers.
func NewHTTPServer(h http.Handler) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           h,
		Protocols:         &p,
		ReadHeaderTimeout: readHeaderTimeout,
		HTTP2: &http.HTTP2Config{
			MaxReceiveBufferPerStream:     http2Window,
			MaxReceiveBufferPerConnection: http2Window,
			MaxReadFrameSize:              http2MaxFrame,
			SendPingTimeout:               pingAfter,
			PingTimeout:                   pingTimeout,
		},
	}
}

// ServeOption configures one Serve.
type ServeOption func(*http.Server, *net.Listener)

// WithTLS serves over TLS with cfg (HTTP/2 negotiated by ALPN, and HTTP/1.1)
// instead of in the clear.
func WithTLS(cfg *tls.Config) ServeOption {
	return func(srv *http.Server, ln *net.Listener) {
		srv.TLSConfig = cfg
		srv.Protocols.SetHTTP2(true)
		srv.Protocols.SetUnencryptedHTTP2(false)
		*ln = tls.NewListener(*ln, cfg)
	}
}

// WithConnContext sets the function that derives each connection's context,
// e.g. to carry the credentials of a unix socket's peer to the handler.
func WithConnContext(f func(ctx context.Context, c net.Conn) context.Context) ServeOption {
	return func(srv *http.Server, _ *net.Listener) { srv.ConnContext = f }
}

// Serve serves h on ln until ctx is done, then shuts down gracefully: it
// stops accepting, waits up to a few seconds for running requests, and
// closes the rest. It returns nil after a shutdown that ctx asked for.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ...ServeOption) error {
	srv := NewHTTPServer(h)
	ln = deadPeerListener{ln}
	for _, o := range opts {
		o(srv, &ln)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if errors.Is(err, context.DeadlineExceeded) {
		err = srv.Close()
	}
	if serr := <-done; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// deadPeerListener sets deadPeerTimeout on the TCP connections it accepts.
type deadPeerListener struct{ net.Listener }

func (l deadPeerListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		setUserTimeout(tc, deadPeerTimeout) // best effort: a kernel without it keeps TCP's own limit
	}
	return c, nil
}
