package repo

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// A manifest of an encrypted repository is sealed in segments, so that it
// can be read as a stream, as a plaintext one is (manifest.go), never held
// whole:
//
//	prefix (8, random) | segment 0 | segment 1 | … | segment n-1
//	segment i: AES-256-GCM(blob key, nonce: prefix | uint32 i (top bit set on the last), ≤ 64 KiB, aad: the object's key) | tag (16)
//
// Every segment but the last holds streamSegment bytes; the segment number
// in the nonce refuses segments reordered, and the last-segment bit a
// stream cut at a segment boundary. The plaintext's size follows from the
// object's (streamPlainSize), so it is known from a Stat.
const (
	streamSegment = 64 << 10
	streamPrefix  = 8
	streamSealed  = streamSegment + tagSize
	streamLast    = 1 << 31
)

// streamSegments returns how many segments a plaintext of n bytes takes.
func streamSegments(n int64) int64 { return max(1, (n+streamSegment-1)/streamSegment) }

// streamPlainSize returns the size of the plaintext that a sealed stream
// of stored bytes holds; one no sealed stream can have is ErrCorrupt.
func streamPlainSize(stored int64) (int64, error) {
	n := stored - streamPrefix
	if n < tagSize {
		return 0, fmt.Errorf("%w: sealed stream of %d bytes, too short", ErrCorrupt, stored)
	}
	segs := (n + streamSealed - 1) / streamSealed
	if last := n - (segs-1)*streamSealed; last < tagSize || segs > streamLast {
		return 0, fmt.Errorf("%w: %d bytes is no sealed stream's size", ErrCorrupt, stored)
	}
	return n - segs*tagSize, nil
}

// streamNonce returns the nonce of segment i of segs under prefix.
func streamNonce(prefix []byte, i, segs int64) []byte {
	nonce := make([]byte, nonceSize)
	copy(nonce, prefix)
	v := uint32(i)
	if i == segs-1 {
		v |= streamLast
	}
	binary.BigEndian.PutUint32(nonce[streamPrefix:], v)
	return nonce
}

// sealStream seals plain in segments, authenticated with aad.
func (c *crypt) sealStream(plain []byte, aad string) ([]byte, error) {
	segs := streamSegments(int64(len(plain)))
	out := make([]byte, streamPrefix, streamPrefix+int64(len(plain))+segs*tagSize)
	if _, err := rand.Read(out); err != nil {
		return nil, fmt.Errorf("repo: nonce: %w", err)
	}
	for i := range segs {
		seg := plain[min(int64(len(plain)), i*streamSegment):min(int64(len(plain)), (i+1)*streamSegment)]
		out = c.aead.Seal(out, streamNonce(out[:streamPrefix], i, segs), seg, []byte(aad))
	}
	return out, nil
}

// openStream returns a reader of the plaintext of the sealed stream of
// stored bytes that rc reads. A segment that does not authenticate, a
// stream that ends early or goes on past its last segment is an error
// matching ErrCorrupt; no byte of a segment is delivered before it is
// authenticated.
func (c *crypt) openStream(rc io.ReadCloser, stored int64, aad string) (io.ReadCloser, error) {
	if _, err := streamPlainSize(stored); err != nil {
		return nil, err
	}
	n := stored - streamPrefix
	segs := (n + streamSealed - 1) / streamSealed
	return &streamReader{c: c, rc: rc, aad: []byte(aad), segs: segs, lastLen: int(n - (segs-1)*streamSealed)}, nil
}

// streamReader decrypts a sealed stream segment by segment.
type streamReader struct {
	c       *crypt
	rc      io.ReadCloser
	aad     []byte
	prefix  []byte // read before the first segment
	seg     int64  // the next segment
	segs    int64
	lastLen int    // the last segment's sealed length
	buf     []byte // one sealed segment
	plain   []byte // what is left of the segment decrypted
	err     error  // sticky
}

func (s *streamReader) Read(p []byte) (int, error) {
	for len(s.plain) == 0 {
		if s.err != nil {
			return 0, s.err
		}
		s.err = s.next()
	}
	n := copy(p, s.plain)
	s.plain = s.plain[n:]
	return n, nil
}

// next decrypts the next segment, or checks that the stream ends after the
// last one (io.EOF).
func (s *streamReader) next() error {
	if s.prefix == nil {
		s.prefix = make([]byte, streamPrefix)
		if _, err := io.ReadFull(s.rc, s.prefix); err != nil {
			return s.short(err)
		}
	}
	if s.seg == s.segs {
		var one [1]byte
		switch n, err := io.ReadFull(s.rc, one[:]); {
		case n > 0:
			return fmt.Errorf("%w: sealed stream longer than its %d segments", ErrCorrupt, s.segs)
		case err != io.EOF:
			return err
		}
		return io.EOF
	}
	n := streamSealed
	if s.seg == s.segs-1 {
		n = s.lastLen
	}
	if s.buf == nil {
		s.buf = make([]byte, streamSealed)
	}
	if _, err := io.ReadFull(s.rc, s.buf[:n]); err != nil {
		return s.short(err)
	}
	plain, err := s.c.aead.Open(s.buf[:0], streamNonce(s.prefix, s.seg, s.segs), s.buf[:n], s.aad)
	if err != nil {
		return fmt.Errorf("%w: segment %d of %d does not authenticate (damaged, or not this repository's)", ErrCorrupt, s.seg, s.segs)
	}
	s.seg++
	s.plain = plain
	return nil
}

// short maps a stream that ended early to ErrCorrupt.
func (s *streamReader) short(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: sealed stream ended in segment %d of %d", ErrCorrupt, s.seg, s.segs)
	}
	return err
}

func (s *streamReader) Close() error { return s.rc.Close() }
