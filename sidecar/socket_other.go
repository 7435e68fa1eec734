//go:build !unix

package sidecar

import (
	"errors"
	"io/fs"
	"net"
)

// bindUnix is not available here: a socket's mode cannot be set without
// following a symlink.
func bindUnix(path string, _ fs.FileMode) (net.Listener, error) {
	return nil, errors.New("listen " + unixPrefix + path + ": unix sockets need a unix system")
}
