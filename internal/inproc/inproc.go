// Package inproc connects an HTTP client to a server in the same process
// over in-memory pipes: no socket is opened, so nothing outside the process
// can reach the server. restore and backup --from pebble:/dir: serve a
// repository or a source to their own install or backup this way.
package inproc

import (
	"context"
	"errors"
	"net"
	"sync"
)

// ErrClosed is returned by Accept and DialContext once the Listener is
// closed.
var ErrClosed = errors.New("inproc: listener closed")

// Listener is a net.Listener whose connections come from its own
// DialContext, each one end of a net.Pipe.
type Listener struct {
	conns  chan net.Conn
	closed chan struct{}
	once   sync.Once
}

var _ net.Listener = (*Listener)(nil)

// New returns an open Listener.
func New() *Listener {
	return &Listener{conns: make(chan net.Conn), closed: make(chan struct{})}
}

// Accept waits for the next DialContext and returns the server's end.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.closed:
		return nil, ErrClosed
	}
}

// DialContext returns the client's end of a new connection, once the
// server has accepted it; network and address are ignored. It has the
// signature of net.Dialer.DialContext, for an http.Transport.
func (l *Listener) DialContext(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	select {
	case l.conns <- conn{server}:
		return conn{client}, nil
	case <-l.closed:
	case <-ctx.Done():
	}
	_ = client.Close() // never handed out: the error to report is below
	_ = server.Close()
	if ctx.Err() != nil {
		return nil, context.Cause(ctx)
	}
	return nil, ErrClosed
}

// Close stops Accept and DialContext; connections already made stay open.
func (l *Listener) Close() error {
	l.once.Do(func() { close(l.closed) })
	return nil
}

// Addr names the listener; there is no address to dial.
func (l *Listener) Addr() net.Addr { return addr{} }

type addr struct{}

func (addr) Network() string { return "inproc" }
func (addr) String() string  { return "inproc" }

// conn is one end of a pipe, named by addr, so logs say where it came from.
type conn struct{ net.Conn }

func (conn) LocalAddr() net.Addr  { return addr{} }
func (conn) RemoteAddr() net.Addr { return addr{} }
