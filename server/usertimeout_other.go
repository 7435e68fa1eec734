//go:build !linux

package server

import (
	"net"
	"time"
)

// setUserTimeout does nothing here: TCP's own retransmission limit applies.
func setUserTimeout(*net.TCPConn, time.Duration) {}
