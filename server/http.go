package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/snapsync/snapsync/internal/connlimit"
)

// HTTP tuning: 16 MiB HTTP/2 windows keep a stream of 1 MiB chunks from
// stalling on flow control; shutdownGrace bounds how long Serve waits for
// running requests once its context is done. readHeaderTimeout bounds a
// request's headers and a TLS handshake; idleTimeout closes a connection
// (HTTP/1.1 or HTTP/2) that has no request running for that long; it is
// above the 90 s after which the client drops its idle connections, so the
// client, not the server, ends an idle connection and never sends a call
// on one the server is closing.
// A connection idle for pingAfter is pinged; one that does not answer
// within pingTimeout is closed, so a dead peer does not hold a stream (and
// its lease and stream slot) open.
const (
	http2Window       = 16 << 20
	http2MaxFrame     = 1 << 20
	readHeaderTimeout = 10 * time.Second
	idleTimeout       = 2 * time.Minute
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
// unencrypted HTTP/2 (h2c), with 16 MiB HTTP/2 receive windows, pings that
// find dead peers, and bounds on header reads and idle connections.
func NewHTTPServer(h http.Handler) *http.Server {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &http.Server{
		Handler:           h,
		Protocols:         &p,
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout, // HTTP/2 takes it too (http.HTTP2Config has none)
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
type ServeOption func(*serveConfig)

type serveConfig struct {
	tls         *tls.Config
	connContext func(ctx context.Context, c net.Conn) context.Context
	limit       *connlimit.Limiter
	name        string
}

// WithTLS serves over TLS with cfg (HTTP/2 negotiated by ALPN, and HTTP/1.1)
// instead of in the clear.
func WithTLS(cfg *tls.Config) ServeOption {
	return func(c *serveConfig) { c.tls = cfg }
}

// WithConnContext sets the function that derives each connection's context,
// e.g. to carry the credentials of a unix socket's peer to the handler. It
// gets the connection the listener accepted (under TLS, the *tls.Conn).
func WithConnContext(f func(ctx context.Context, c net.Conn) context.Context) ServeOption {
	return func(c *serveConfig) { c.connContext = f }
}

// WithConnLimit counts the listener's connections against l, which
// several listeners may share, under name ("peer", "local", "metrics") in
// its refusals. Default: a limiter of this listener alone with
// connlimit's defaults (half the open-file limit, at most 4096; a quarter
// of it reserved for authenticated connections).
func WithConnLimit(l *connlimit.Limiter, name string) ServeOption {
	return func(c *serveConfig) { c.limit, c.name = l, name }
}

// Serve serves h on ln until ctx is done, then shuts down gracefully: it
// stops accepting, waits up to a few seconds for running requests, and
// closes the rest. It returns nil after a shutdown that ctx asked for.
// Its connections are bounded by a connlimit.Limiter (WithConnLimit); a
// handler behind connlimit.Gate marks those that authenticate.
func Serve(ctx context.Context, ln net.Listener, h http.Handler, opts ...ServeOption) error {
	srv, sln, err := newServer(ln, h, opts)
	if err != nil {
		return errors.Join(err, ln.Close())
	}
	ln = sln
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
	defer cancel()
	err = srv.Shutdown(sctx)
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

// newServer returns the server of h and the listener it serves, in layers:
// TCP_USER_TIMEOUT on the accepted socket, then the connection cap, then
// TLS, so the cap counts a connection before its handshake.
func newServer(ln net.Listener, h http.Handler, opts []ServeOption) (*http.Server, net.Listener, error) {
	c := serveConfig{name: "listener"}
	for _, o := range opts {
		o(&c)
	}
	if c.limit == nil {
		l, err := connlimit.New(connlimit.Config{})
		if err != nil {
			return nil, nil, err
		}
		c.limit = l
	}
	srv := NewHTTPServer(splicing(h))
	ln = c.limit.Listen(spliceListener{deadPeerListener{ln}}, c.name)
	srv.ConnContext = func(ctx context.Context, nc net.Conn) context.Context {
		ctx = connlimit.ConnContext(ctx, nc)
		ctx = connSplice(ctx, nc)
		if c.connContext != nil {
			ctx = c.connContext(ctx, connlimit.Unwrap(nc))
		}
		return ctx
	}
	if c.tls != nil {
		srv.TLSConfig = c.tls
		srv.Protocols.SetHTTP2(true)
		srv.Protocols.SetUnencryptedHTTP2(false)
		ln = tls.NewListener(ln, c.tls)
	}
	return srv, ln, nil
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
