package client

import (
	"os"
	"strconv"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// limitReceiveBuffer sets a chunk stream socket's receive buffer to
// streamWindow before it connects (so the window scale fits it): what the
// server can have in flight on the stream, and so what a killed install
// fetches again, stays about two chunks, as HTTP/2's stream window kept it.
// Setting SO_RCVBUF also turns off the kernel's autotuning, and the kernel
// caps it at net.core.rmem_max (208 KiB on many hosts, far too small for a
// link with any latency), so it is left alone unless rmem_max allows it.
func limitReceiveBuffer(_, _ string, c syscall.RawConn) error {
	if !receiveBufferAllowed(streamWindow) {
		return nil
	}
	var serr error
	if err := c.Control(func(fd uintptr) {
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, streamWindow)
	}); err != nil {
		return err
	}
	return serr
}

// receiveBufferAllowed reports whether net.core.rmem_max lets a socket's
// receive buffer be set to n bytes.
func receiveBufferAllowed(n int) bool {
	b, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		return false
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(b)))
	return err == nil && limit >= n
}
