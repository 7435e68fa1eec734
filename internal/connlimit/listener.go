package connlimit

import (
	"container/list"
	"net"
)

// Listen returns ln bounded by l; name ("peer", "local", "metrics") labels
// its refusals. Accept never blocks on the cap: the kernel's queue is always
// drained, so an authenticated peer is never stuck behind a flood in it.
func (l *Limiter) Listen(ln net.Listener, name string) net.Listener {
	l.mu.Lock()
	defer l.mu.Unlock()
	if _, ok := l.refused[name]; !ok {
		l.refused[name] = 0 // in Stats from now on, so its counter starts at zero
	}
	return &listener{Listener: ln, lim: l, name: name}
}

type listener struct {
	net.Listener
	lim  *Limiter
	name string
}

// Accept returns the next connection the cap admits, closing those it
// refuses and those it evicts to make room.
func (ln *listener) Accept() (net.Conn, error) {
	for {
		c, err := ln.Listener.Accept()
		if err != nil {
			return nil, err
		}
		admitted, victim := ln.lim.admit(c, ln.name)
		if victim != nil {
			_ = victim.Conn.Close() // its server sees the error and lets it go
		}
		if admitted != nil {
			return admitted, nil
		}
		_ = c.Close() // refused: nothing to tell a peer we did not serve
	}
}

// conn is an admitted connection; it holds its slot until it is closed.
type conn struct {
	net.Conn
	lim      *Limiter
	listener string
	// Guarded by lim.mu: elem is its place among the unauthenticated
	// connections (nil once authenticated or released); released is set
	// once its slot is freed.
	elem     *list.Element
	released bool
}

// Close closes the connection and frees its slot.
func (c *conn) Close() error {
	c.lim.release(c)
	return c.Conn.Close()
}

// CloseWrite shuts down the writing side where the connection has one, so
// net/http can end a response with a FIN rather than a reset.
func (c *conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Unwrap returns the connection a Limiter's listener wrapped, or c itself,
// for code that looks for a *net.TCPConn or *net.UnixConn.
func Unwrap(c net.Conn) net.Conn {
	if lc, ok := c.(*conn); ok {
		return lc.Conn
	}
	return c
}
