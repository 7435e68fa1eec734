package verify

import (
	"encoding/hex"
	"fmt"

	sha256 "github.com/minio/sha256-simd"
)

// DigestSize is the length of a Digest in bytes.
const DigestSize = sha256.Size

// Digest is the SHA-256 of a chunk's raw bytes or of a manifest's canonical
// encoding (then it is the snapshot ID).
type Digest [DigestSize]byte

// Sum returns the digest of b.
func Sum(b []byte) Digest { return Digest(sha256.Sum256(b)) }

// String returns the digest in lowercase hex.
func (d Digest) String() string { return hex.EncodeToString(d[:]) }

// Short returns the first 12 hex digits, for logs.
func (d Digest) Short() string { return d.String()[:12] }

// IsZero reports whether d is all zeros (never a real digest in practice).
func (d Digest) IsZero() bool { return d == Digest{} }

// ParseDigest parses 64 hex digits.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*DigestSize {
		return d, fmt.Errorf("%w: %d hex digits, want %d", ErrBadDigest, len(s), 2*DigestSize)
	}
	if _, err := hex.Decode(d[:], []byte(s)); err != nil {
		return d, fmt.Errorf("%w: %v", ErrBadDigest, err)
	}
	return d, nil
}

// DigestFromBytes converts a 32-byte slice, as carried on the wire.
func DigestFromBytes(b []byte) (Digest, error) {
	var d Digest
	if len(b) != DigestSize {
		return d, fmt.Errorf("%w: %d bytes, want %d", ErrBadDigest, len(b), DigestSize)
	}
	copy(d[:], b)
	return d, nil
}
