package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// HTTP tuning: 16 MiB HTTP/2 windows keep a stream of 1 MiB chunks from
// stalling on flow control; shutdownGrace bounds how long Serve waits for
// running requests once its context is done.
const (
	http2Window       = 16 << 20
	http2MaxFrame     = 1 << 20
	readHeaderTimeout = 10 * time.Second
	shutdownGrace     = 5 * time.Second
)

// NewHTTPServer returns an http.Server for h that speaks HTTP/1.1 and
// unencrypted HTTP/2 (h2c), with 16 MiB HTTP/2 receive windows.
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
		},
	}
}

// Serve serves h on ln until ctx is done, then shuts down gracefully: it
// stops accepting, waits up to a few seconds for running requests, and
// closes the rest. It returns nil after a shutdown that ctx asked for.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	srv := NewHTTPServer(h)
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
