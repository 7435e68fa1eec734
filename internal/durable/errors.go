package durable

import "errors"

var (
	// ErrExchangeUnsupported reports that the platform or filesystem cannot
	// exchange two paths atomically, having changed nothing.
	ErrExchangeUnsupported = errors.New("durable: atomic exchange unsupported")
	// ErrLocked reports a lock another holder has; callers wrap it into their
	// own error (a busy staging area, a work dir in use).
	ErrLocked = errors.New("durable: locked by another holder")
	// ErrOutside reports a path given to a Beneath FS, or to OpenDirWithin,
	// that does not lie below its directory.
	ErrOutside = errors.New("durable: path outside the directory handle")
)
