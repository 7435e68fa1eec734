package sidecar

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"
)

// unixPrefix marks a unix socket address.
const unixPrefix = "unix:"

// socketProbe bounds the dial that tells a stale socket from a live one.
const socketProbe = time.Second

// ListenOption tunes a Listen.
type ListenOption func(*listenOptions)

type listenOptions struct {
	mode fs.FileMode // of a unix socket
}

// SocketMode gives a unix socket the permission bits mode instead of 0600
// (0666 lets other uids connect, for a SO_PEERCRED check to admit or refuse
// them). It has no effect on a TCP address.
func SocketMode(mode fs.FileMode) ListenOption {
	return func(o *listenOptions) { o.mode = mode.Perm() }
}

// Listen opens a listener on "host:port" or "unix:/path/to.sock". A unix
// socket left by a dead process is removed first (a live one, or a path that
// is not a socket, is refused) and the new one is made 0600 (SocketMode).
// Unless allowNonLoopback is set, a TCP address must be a loopback IP or
// "localhost", and the bound address is checked again: the local API must
// never reach the network by accident.
func Listen(addr string, allowNonLoopback bool, opts ...ListenOption) (net.Listener, error) {
	o := listenOptions{mode: 0o600}
	for _, opt := range opts {
		opt(&o)
	}
	if path, ok := strings.CutPrefix(addr, unixPrefix); ok {
		return listenUnix(path, o.mode)
	}
	if !allowNonLoopback {
		if err := checkLoopback(addr); err != nil {
			return nil, err
		}
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen %s: %w", addr, err)
	}
	if tcp, ok := ln.Addr().(*net.TCPAddr); !allowNonLoopback && (!ok || !tcp.IP.IsLoopback()) {
		cerr := ln.Close()
		return nil, errors.Join(fmt.Errorf("%w: bound %s", ErrNotLoopback, ln.Addr()), cerr)
	}
	return ln, nil
}

// checkLoopback accepts a loopback IP or "localhost" as the host of addr.
func checkLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	if strings.EqualFold(host, "localhost") {
		return nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || !ip.IsLoopback() {
		return fmt.Errorf("%w: %q (use 127.0.0.1, [::1], localhost or unix:/path, or allow non-loopback explicitly)",
			ErrNotLoopback, addr)
	}
	return nil
}

// listenUnix listens on a unix socket at path with mode, removing a stale
// one; bindUnix gives it its mode without ever following a symlink.
func listenUnix(path string, mode fs.FileMode) (net.Listener, error) {
	if path == "" {
		return nil, fmt.Errorf("listen %s: empty socket path", unixPrefix)
	}
	if err := removeStale(path); err != nil {
		return nil, err
	}
	return bindUnix(path, mode)
}

// removeStale removes a socket at path that nobody listens on.
func removeStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("listen %s%s: exists and is not a socket", unixPrefix, path)
	}
	conn, err := net.DialTimeout("unix", path, socketProbe)
	if err == nil {
		cerr := conn.Close()
		return errors.Join(fmt.Errorf("listen %s%s: a process is listening on it", unixPrefix, path), cerr)
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket %s: %w", path, err)
	}
	return nil
}
