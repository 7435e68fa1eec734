package e2e

import (
	"io"
	"net"
	"sync"
	"sync/atomic"
	"testing"
)

// proxy is a TCP proxy on 127.0.0.1 that counts the bytes the server sends
// and can flip bits in them, to put real corruption on a real connection.
type proxy struct {
	Addr string
	ln   net.Listener
	// fromServer counts bytes sent by the server to clients.
	fromServer atomic.Int64
	// flip decides, for the byte at absolute offset off of the server's
	// output, whether to flip its lowest bit. nil: never.
	flip func(off int64) bool
	// stallAt, when positive, makes the proxy stop forwarding the server's
	// bytes once it has forwarded that many, holding the connections open:
	// a peer that stops answering without closing anything.
	stallAt atomic.Int64
	// cutAt, when positive, makes the proxy close the connection that
	// carries the server's byte at that offset, once: a peer that drops a
	// stream mid-way.
	cutAt   atomic.Int64
	stalled chan struct{} // closed at cleanup, to release stalled pipes
	wg      sync.WaitGroup
}

func startProxy(tb testing.TB, target string, flip func(off int64) bool) *proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &proxy{Addr: ln.Addr().String(), ln: ln, flip: flip, stalled: make(chan struct{})}
	p.wg.Add(1)
	go p.accept(target)
	tb.Cleanup(func() {
		ln.Close()
		close(p.stalled)
		p.wg.Wait()
	})
	return p
}

func (p *proxy) URL() string { return "http://" + p.Addr }

func (p *proxy) accept(target string) {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		s, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		// A small send buffer toward the client: what the proxy counts as
		// sent is then what the client's kernel took, not what waits in the
		// proxy's own buffer when the client is killed.
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetWriteBuffer(128 << 10) // a hint: the count is a little high without it
		}
		p.wg.Add(2)
		go func() { defer p.wg.Done(); p.pipe(s, c, false) }()
		go func() { defer p.wg.Done(); p.pipe(c, s, true) }()
	}
}

// pipe copies src to dst; fromServer marks the direction to count and corrupt.
// While nothing is to be flipped or stalled it splices: io.CopyN into a
// *net.TCPConn from an *io.LimitedReader over a *net.TCPConn moves the bytes
// kernel to kernel, so the proxy costs the benchmark little CPU.
func (p *proxy) pipe(dst, src net.Conn, fromServer bool) {
	defer dst.Close()
	defer src.Close()
	for p.flip == nil && p.stallAt.Load() <= 0 && p.cutAt.Load() <= 0 {
		n, err := io.CopyN(dst, src, 1<<20)
		if fromServer {
			p.fromServer.Add(n)
		}
		if err != nil {
			return // EOF or a closed connection: either way this direction is done
		}
	}
	p.pipeBuffered(dst, src, fromServer)
}

// pipeBuffered copies through a buffer, counting, flipping, stalling and
// cutting.
func (p *proxy) pipeBuffered(dst, src net.Conn, fromServer bool) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if at := p.cutAt.Load(); n > 0 && fromServer && at > 0 && p.fromServer.Load()+int64(n) > at && p.cutAt.CompareAndSwap(at, 0) {
			return // pipe closes both ends
		}
		if at := p.stallAt.Load(); n > 0 && fromServer && at > 0 && p.fromServer.Load()+int64(n) > at {
			<-p.stalled // hold the connection open, forwarding nothing more
			return
		}
		if n > 0 && fromServer {
			base := p.fromServer.Add(int64(n)) - int64(n)
			if p.flip != nil {
				for i := 0; i < n; i++ {
					if p.flip(base + int64(i)) {
						buf[i] ^= 1
					}
				}
			}
		}
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			return // EOF or a closed connection: either way this direction is done
		}
	}
}
