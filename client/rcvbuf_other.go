//go:build !linux

package client

import "syscall"

// limitReceiveBuffer leaves the socket as it is: the kernel's buffer sizing
// bounds what a stream has in flight.
func limitReceiveBuffer(_, _ string, _ syscall.RawConn) error { return nil }
