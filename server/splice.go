package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"unsafe"

	"github.com/snapsync/snapsync/internal/connlimit"
	"github.com/snapsync/snapsync/internal/rpccodec"
)

// Splicing: over plaintext HTTP/1.1, a raw chunk's bytes past its first
// rpccodec.SpliceHead go from the checkpoint file to the socket by
// sendfile(2), so the leader neither reads them into memory nor copies them
// into the socket: two copies of every byte it serves (docs/DESIGN.md, "How
// an install runs", step 4, "Serving a chunk"). The codec leaves that tail
// of the message buffer unread and names it (rpccodec.Splicer); the
// connection under net/http (spliceConn) sends the region from the file
// when the buffer is written to it in place, which net/http does with a
// body larger than its buffers. Anything else is a misfire: the connection
// is closed, since what it sent is not the chunk, and the server splices no
// more (Server.noSplice); the client's digest check would refuse such a
// chunk in any case.

// errSpliceMisfire: a chunk's unread region was not written to the
// connection in place.
var errSpliceMisfire = errors.New("splice: the chunk's bytes were not written to the connection in place")

// spliceConn is an accepted TCP connection that sends a registered region
// of the next write from its file instead of from memory.
type spliceConn struct {
	*net.TCPConn
	region []byte   // the codec left it unread; nil when none is pending
	f      *os.File // region's bytes are f's at off
	off    int64
	sent   int   // the bytes of the last region sent from its file
	err    error // why the last region was not sent whole
}

var _ rpccodec.Splicer = (*spliceConn)(nil)

// Defer registers region, len(region) bytes of f at off, for a write to
// come.
func (c *spliceConn) Defer(region []byte, f *os.File, off int64) {
	c.region, c.f, c.off, c.sent, c.err = region, f, off, 0, nil
}

// settle ends the region of a message just sent, if there was one, given
// the send's error: the bytes sent from its file, or why the region was not
// sent whole. A region never written by a send that succeeded means its
// bytes went through a copy: a misfire. One a failed send left unwritten is
// dropped with the connection, which no longer holds a whole message.
func (c *spliceConn) settle(sendErr error) (int, error) {
	if c.region != nil {
		if sendErr == nil {
			c.misfire()
		} else {
			c.region, c.f = nil, nil
			_ = c.TCPConn.Close()
		}
	}
	n, err := c.sent, c.err
	c.sent, c.err = 0, nil
	return n, err
}

func (c *spliceConn) misfire() {
	c.region, c.f, c.err = nil, nil, errSpliceMisfire
	_ = c.TCPConn.Close() // what it sent is not the chunk
}

// Write writes p, sending from the file the part of p that is the pending
// region. p must then end where the region does and start no later.
func (c *spliceConn) Write(p []byte) (int, error) {
	if c.region == nil || len(p) == 0 {
		return c.TCPConn.Write(p)
	}
	ps := uintptr(unsafe.Pointer(unsafe.SliceData(p)))
	pe := ps + uintptr(len(p))
	rs := uintptr(unsafe.Pointer(unsafe.SliceData(c.region)))
	re := rs + uintptr(len(c.region))
	if pe <= rs || ps >= re {
		return c.TCPConn.Write(p) // before the region: the message's head
	}
	if ps > rs || pe != re {
		c.misfire()
		return 0, c.err
	}
	region, f, off := c.region, c.f, c.off
	c.region, c.f = nil, nil
	n := int(rs - ps) // the message's bytes before the region
	if n > 0 {
		if m, err := c.TCPConn.Write(p[:n]); err != nil {
			c.err = err
			return m, err
		}
	}
	m, err := sendFile(c.TCPConn, f, off, len(region))
	if err != nil {
		c.err = fmt.Errorf("send %d bytes of %s at %d: %w", len(region), f.Name(), off, err)
		_ = c.TCPConn.Close() // the message is cut short
		return n + m, c.err
	}
	c.sent = m
	return len(p), nil
}

// spliceListener makes each accepted TCP connection a spliceConn, where
// the platform has sendfile.
type spliceListener struct{ net.Listener }

func (l spliceListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok && canSendFile {
		return &spliceConn{TCPConn: tc}, nil
	}
	return c, nil
}

type (
	spliceConnKey struct{} // the connection's spliceConn (connSplice)
	spliceKey     struct{} // a request that may splice (splicing)
)

// connSplice is the ConnContext half: a connection net/http serves as it
// was accepted, in the clear, is recorded. Under TLS it is a *tls.Conn.
func connSplice(ctx context.Context, nc net.Conn) context.Context {
	if c, ok := connlimit.Unwrap(nc).(*spliceConn); ok {
		return context.WithValue(ctx, spliceConnKey{}, c)
	}
	return ctx
}

// splicing wraps h: an HTTP/1.1 request on a recorded connection may
// splice (spliceFor). HTTP/2 copies every body into its frames.
func splicing(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if c, ok := r.Context().Value(spliceConnKey{}).(*spliceConn); ok && r.ProtoMajor == 1 {
			r = r.WithContext(context.WithValue(r.Context(), spliceKey{}, c))
		}
		h.ServeHTTP(w, r)
	})
}

// spliceFor returns the connection of ctx's request if its response may
// splice, or nil.
func spliceFor(ctx context.Context) *spliceConn {
	c, _ := ctx.Value(spliceKey{}).(*spliceConn)
	return c
}
