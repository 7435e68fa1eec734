package server

import (
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

const canSendFile = true

// sendFile sends n bytes of f at off to c with sendfile(2), waiting for the
// socket as Write does (and under its deadline). A file shorter than that
// ends it with io.ErrUnexpectedEOF.
func sendFile(c *net.TCPConn, f *os.File, off int64, n int) (int, error) {
	src, err := f.SyscallConn()
	if err != nil {
		return 0, err
	}
	dst, err := c.SyscallConn()
	if err != nil {
		return 0, err
	}
	sent := 0
	var werr, serr error
	cerr := src.Control(func(sfd uintptr) {
		werr = dst.Write(func(dfd uintptr) bool {
			for sent < n {
				m, err := unix.Sendfile(int(dfd), int(sfd), &off, n-sent)
				if m > 0 {
					sent += m
				}
				switch {
				case err == unix.EAGAIN:
					return false // wait until the socket takes more
				case err == unix.EINTR:
				case err != nil:
					serr = err
					return true
				case m == 0:
					serr = io.ErrUnexpectedEOF
					return true
				}
			}
			return true
		})
	})
	if cerr != nil {
		return sent, cerr
	}
	if werr != nil {
		return sent, werr
	}
	return sent, serr
}
