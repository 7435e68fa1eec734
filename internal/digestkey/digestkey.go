// Package digestkey reduces a chunk's SHA-256 to a 64-bit map key with a
// per-process random seed, so that a peer that picks digests cannot pick
// collisions: maps keyed by it cost 8 bytes of key an entry instead of 32.
// A key can stand for two digests, so every user confirms a hit against the
// full digest. The client's plan and the server's digest indexes share it.
package digestkey

import (
	"hash/maphash"

	"github.com/snapsync/snapsync/verify"
)

// Key maps digests to 64-bit keys under one random seed.
type Key struct{ seed maphash.Seed }

// New returns a Key with a fresh random seed.
func New() Key { return Key{seed: maphash.MakeSeed()} }

// Of returns d's key.
func (k Key) Of(d *verify.Digest) uint64 { return maphash.Bytes(k.seed, d[:]) }
