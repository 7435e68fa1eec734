package client

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// limitReceiveBuffer sets a chunk stream socket's receive buffer to
// streamWindow before it connects (so the window scale fits it): what the
// server can have in flight on the stream, and so what a killed install
// fetches again, stays about two chunks, as HTTP/2's stream window kept it.
func limitReceiveBuffer(_, _ string, c syscall.RawConn) error {
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, streamWindow)
	}); err != nil {
		return err
	}
	return serr
}
