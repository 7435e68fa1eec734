package client

import (
	"errors"
	"fmt"

	"github.com/dustin/go-humanize"

	"github.com/snapsync/snapsync/internal/stall"
)

// Sentinel errors; match them with errors.Is. An error of a failed install
// wraps one of them and, where there is one, the cause (a *verify.MismatchError,
// a *connect.Error, an *fs.PathError...).
var (
	// ErrConfig reports a Config that Validate refuses.
	ErrConfig = errors.New("client: bad config")
	// ErrVerify reports a chunk that still failed verification (digest,
	// length or decoding) after Config.ChunkRetries re-fetches.
	ErrVerify = errors.New("client: verification failed")
	// ErrServer reports a server that broke the protocol: a manifest that does
	// not match its ID or is invalid, a chunk that was not asked for, a
	// summary that contradicts the request, or an RPC error that is not worth
	// retrying.
	ErrServer = errors.New("client: server error")
	// ErrMinIndex reports a server whose checkpoint does not reach the
	// index asked for (it answered FailedPrecondition): the node may try
	// again later, or another peer.
	ErrMinIndex = errors.New("client: snapshot does not reach the index asked for")
	// ErrUnavailable reports a server still unreachable (or refusing more
	// streams) after Config.MaxAttempts attempts.
	ErrUnavailable = errors.New("client: server unavailable")
	// ErrTLS reports a TLS handshake that failed for a reason no retry can
	// fix: the server's certificate is not trusted (unknown CA, expired,
	// wrong usage), does not name the host or an allowed peer, the server
	// refused this side's certificate or its lack of one, or an https://
	// URL reaches a server that does not speak TLS. It fails at once
	// (another source, if any, is tried) and wraps the cause
	// (x509.UnknownAuthorityError, x509.HostnameError...).
	ErrTLS = errors.New("client: TLS handshake failed")
	// ErrStalled reports a server that made no progress for
	// Config.StallTimeout; the install fails at once, keeping what it staged.
	ErrStalled = stall.ErrStalled
	// ErrStaging reports a staging area that cannot be used as found: a
	// garbage state file, an entry of the wrong type, a tree whose identity
	// does not match the state.
	ErrStaging = errors.New("client: bad staging area")
	// ErrStagingUntrusted reports a staging area this process does not
	// control alone (a symlink, another uid's, group- or world-writable); it
	// is never used, followed or removed. It wraps ErrStaging.
	ErrStagingUntrusted = fmt.Errorf("%w: not this process's own", ErrStaging)
	// ErrBusy reports another install holding the staging area's lock.
	ErrBusy = errors.New("client: staging area in use")
	// ErrNotStaged reports a Commit with no complete staged snapshot.
	ErrNotStaged = errors.New("client: nothing staged")
	// ErrRecoverNeeded reports a swap journal left by an interrupted Commit:
	// Recover (or Install, or Commit) must run before Prepare.
	ErrRecoverNeeded = errors.New("client: interrupted swap, run Recover")
)

// ErrNoSpace reports a staging filesystem without the space the install
// needs: refused before the first byte (a *NoSpaceError says the figures),
// or filled up during it (wrapping the ENOSPC), in which case what is staged
// is kept for the next run and the destination is untouched.
var ErrNoSpace = errors.New("client: not enough free space")

// NoSpaceError is the refusal of an install the staging filesystem has no
// room for. It wraps ErrNoSpace.
type NoSpaceError struct {
	// Path is the staging area's parent, on the filesystem measured.
	Path string
	// Need is what the install would write, Headroom included.
	Need int64
	// Headroom is the part of Need kept free beyond the install's own bytes.
	Headroom int64
	// Free is what the filesystem has available to this process.
	Free int64
}

func (e *NoSpaceError) Error() string {
	return fmt.Sprintf("not enough free space on %s: the install needs %s (%s to write + %s headroom), %s is free",
		e.Path, humanize.IBytes(uint64(max(e.Need, 0))), humanize.IBytes(uint64(max(e.Need-e.Headroom, 0))),
		humanize.IBytes(uint64(max(e.Headroom, 0))), humanize.IBytes(uint64(max(e.Free, 0))))
}

// Unwrap makes errors.Is(err, ErrNoSpace) true.
func (e *NoSpaceError) Unwrap() error { return ErrNoSpace }
