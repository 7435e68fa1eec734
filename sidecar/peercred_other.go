//go:build !linux

package sidecar

import (
	"errors"
	"net"
)

// peerUID is not available here: every unix-socket caller is refused.
func peerUID(*net.UnixConn) (uint32, error) {
	return 0, errors.New("peer credentials: SO_PEERCRED needs Linux")
}
