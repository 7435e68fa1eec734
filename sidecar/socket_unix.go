//go:build unix

package sidecar

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"

	"golang.org/x/sys/unix"
)

// sockName is the socket's name in its private directory.
const sockName = "s"

// bindUnix binds a unix socket at path with exactly mode, never acting on
// what another uid may put at path meanwhile (the socket's directory may be
// writable by others: a shared emptyDir). A chmod by path after the bind
// would follow a symlink swapped in for the new socket, and make any file of
// this uid that mode; and bind makes the socket 0777 less the umask, which
// no fchmod of the socket's descriptor changes. So the socket is bound in a
// private directory (0700, this uid's, made beside path and checked through
// its handle, which nobody else can add an entry to), given its mode there
// relative to that handle, then hard-linked to path, which fails if anything
// is there, and unlinked from the private directory, which is removed.
func bindUnix(path string, mode fs.FileMode) (net.Listener, error) {
	dirPath := filepath.Dir(path)
	dir, err := os.Open(dirPath) // the configured directory, trusted as named
	if err != nil {
		return nil, fmt.Errorf("listen %s%s: %w", unixPrefix, path, err)
	}
	priv, privName, err := privateDir(dir)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("listen %s%s: %w", unixPrefix, path, err), dir.Close())
	}
	ln, err := bindIn(dir, priv, privName, path, mode)
	cerr := priv.Close() // a read-only handle
	switch {
	case err != nil:
		return nil, errors.Join(fmt.Errorf("listen %s%s: %w", unixPrefix, path, err), cerr, dir.Close())
	case cerr != nil:
		return nil, errors.Join(fmt.Errorf("listen %s%s: %w", unixPrefix, path, cerr), ln.Close()) // closes dir
	}
	return ln, nil
}

// privateDir makes a directory of this uid, 0700, in dir and opens it
// without following a symlink; its handle is checked, so a directory
// another uid swapped in for it is refused.
func privateDir(dir *os.File) (*os.File, string, error) {
	var rnd [4]byte
	if _, err := rand.Read(rnd[:]); err != nil {
		return nil, "", err
	}
	name := "." + hex.EncodeToString(rnd[:]) // short: a socket path is at most ~104 bytes
	dfd := int(dir.Fd())
	if err := unix.Mkdirat(dfd, name, 0o700); err != nil {
		return nil, "", fmt.Errorf("make a private directory: %w", err)
	}
	fd, err := unix.Openat(dfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, "", errors.Join(fmt.Errorf("open the private directory: %w", err), unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR))
	}
	priv := os.NewFile(uintptr(fd), filepath.Join(dir.Name(), name))
	var st unix.Stat_t
	err = unix.Fstat(fd, &st)
	if err == nil && (int(st.Uid) != os.Geteuid() || st.Mode&0o077 != 0) {
		err = fmt.Errorf("%s is not this uid's own (owner uid %d, mode %o): it was swapped", priv.Name(), st.Uid, st.Mode&0o7777)
		return nil, "", errors.Join(err, priv.Close()) // not ours: leave it
	}
	if err != nil {
		return nil, "", errors.Join(err, priv.Close(), unix.Unlinkat(dfd, name, unix.AT_REMOVEDIR))
	}
	return priv, name, nil
}

// bindIn binds the socket in priv (named privName in dir), sets its mode and
// links it to path, then removes priv. The listener it returns, if any,
// must be closed on error.
func bindIn(dir, priv *os.File, privName, path string, mode fs.FileMode) (_ *unixListener, err error) {
	dfd, pfd := int(dir.Fd()), int(priv.Fd())
	defer func() { // priv is empty once the socket is linked and unlinked
		if rerr := unix.Unlinkat(dfd, privName, unix.AT_REMOVEDIR); rerr != nil && err == nil {
			err = fmt.Errorf("remove the private directory: %w", rerr)
		}
	}()
	inner, err := net.Listen("unix", filepath.Join(priv.Name(), sockName))
	if err != nil {
		return nil, err
	}
	ul := inner.(*net.UnixListener)
	ul.SetUnlinkOnClose(false) // it is unlinked below, and path by Close
	defer func() {
		if uerr := unix.Unlinkat(pfd, sockName, 0); uerr != nil && !errors.Is(uerr, unix.ENOENT) && err == nil {
			err = fmt.Errorf("unlink the private name: %w", uerr)
		}
	}()
	var st unix.Stat_t
	// Only this uid can add an entry to priv: a socket there is the one just
	// bound, unless priv was swapped before the bind, which then went astray.
	if err := unix.Fstatat(pfd, sockName, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || st.Mode&unix.S_IFMT != unix.S_IFSOCK {
		return nil, errors.Join(fmt.Errorf("the socket is not where it was bound: %w", err), ul.Close())
	}
	if err := unix.Fchmodat(pfd, sockName, uint32(mode.Perm()), 0); err != nil {
		return nil, errors.Join(fmt.Errorf("chmod the socket: %w", err), ul.Close())
	}
	base := filepath.Base(path)
	if err := unix.Linkat(pfd, sockName, dfd, base, 0); err != nil {
		return nil, errors.Join(fmt.Errorf("put the socket in place: %w", err), ul.Close())
	}
	return &unixListener{UnixListener: ul, addr: &net.UnixAddr{Name: path, Net: "unix"},
		dir: dir, name: base, dev: uint64(st.Dev), ino: st.Ino, unlink: true}, nil //nolint:unconvert // Dev is int32 on darwin
}

// unixListener is a socket placed by bindUnix: its address is the path it
// was linked to, and Close unlinks that path only while it still names this
// socket, relative to the directory's handle.
type unixListener struct {
	*net.UnixListener
	addr     *net.UnixAddr
	dir      *os.File
	name     string
	dev, ino uint64

	mu     sync.Mutex
	unlink bool
	closed bool
}

// Addr returns the path the socket was put at.
func (l *unixListener) Addr() net.Addr { return l.addr }

// SetUnlinkOnClose sets whether Close removes the socket's path (default
// true), as net.UnixListener's does.
func (l *unixListener) SetUnlinkOnClose(unlink bool) {
	l.mu.Lock()
	l.unlink = unlink
	l.mu.Unlock()
}

// Close stops listening and removes the socket's path if it still names this
// socket; a symlink or another file put there since is left alone.
func (l *unixListener) Close() error {
	err := l.UnixListener.Close()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return err
	}
	l.closed = true
	var st unix.Stat_t
	dfd := int(l.dir.Fd())
	if l.unlink && unix.Fstatat(dfd, l.name, &st, unix.AT_SYMLINK_NOFOLLOW) == nil &&
		uint64(st.Dev) == l.dev && st.Ino == l.ino { //nolint:unconvert // Dev is int32 on darwin
		if uerr := unix.Unlinkat(dfd, l.name, 0); uerr != nil && !errors.Is(uerr, unix.ENOENT) {
			err = errors.Join(err, fmt.Errorf("remove %s: %w", l.addr.Name, uerr))
		}
	}
	return errors.Join(err, l.dir.Close())
}
