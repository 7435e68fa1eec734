package verify

import (
	"errors"
	"fmt"
)

// Sentinel errors; match them with errors.Is.
var (
	ErrBadDigest      = errors.New("verify: malformed digest")
	ErrDigestMismatch = errors.New("verify: digest mismatch")
	ErrBadPath        = errors.New("verify: bad path")
	ErrBadManifest    = errors.New("verify: bad manifest")
	ErrTooLarge       = errors.New("verify: exceeds limit")
	ErrMismatch       = errors.New("verify: tree does not match manifest")
)

// MismatchError reports a digest that is not the one the manifest names.
type MismatchError struct {
	What string // e.g. "chunk 3 of 000012.sst" or "manifest"
	Want Digest
	Got  Digest
}

func (e *MismatchError) Error() string {
	return fmt.Sprintf("verify: digest mismatch on %s: want %s, got %s", e.What, e.Want.Short(), e.Got.Short())
}

// Unwrap makes errors.Is(err, ErrDigestMismatch) hold.
func (e *MismatchError) Unwrap() error { return ErrDigestMismatch }

// CheckDigest returns a *MismatchError unless got equals want.
func CheckDigest(what string, want, got Digest) error {
	if want != got {
		return &MismatchError{What: what, Want: want, Got: got}
	}
	return nil
}

// VersionError reports a manifest in a format version this build does not
// read. It matches ErrBadManifest.
type VersionError struct {
	Got  int // the manifest's version
	Want int // the version this build reads and writes
}

func (e *VersionError) Error() string {
	upgrade := "upgrade the peer"
	if e.Got > e.Want {
		upgrade = "upgrade this node"
	}
	return fmt.Sprintf("verify: manifest format version %d, this snapsync reads %d: %s", e.Got, e.Want, upgrade)
}

// Unwrap makes errors.Is(err, ErrBadManifest) hold.
func (e *VersionError) Unwrap() error { return ErrBadManifest }
