package server

import (
	"crypto/sha256"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/snapsync/snapsync/verify"
)

// checkedReader reads exactly size bytes of f and fails the read that
// reaches the end, with ErrDataLoss and none of its bytes, unless they hash
// to want: a caller that stops at size (io.ReadFull) sees the error too.
type checkedReader struct {
	f    *os.File
	r    io.Reader
	h    hash.Hash
	left int64
	want verify.Digest
}

func newCheckedReader(f *os.File, want verify.Digest, size int64) *checkedReader {
	return &checkedReader{f: f, r: io.LimitReader(f, size), h: sha256.New(), left: size, want: want}
}

func (c *checkedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.h.Write(p[:n])
	c.left -= int64(n)
	if err == io.EOF && c.left > 0 {
		return n, fmt.Errorf("%w: manifest ends %d bytes short", ErrDataLoss, c.left)
	}
	if c.left == 0 && (err == nil || err == io.EOF) {
		if got := verify.Digest(c.h.Sum(nil)); got != c.want {
			return 0, fmt.Errorf("%w: manifest on disk hashes to %s, not its ID %s", ErrDataLoss, got.Short(), c.want.Short())
		}
		return n, io.EOF
	}
	return n, err
}

func (c *checkedReader) Close() error { return c.f.Close() }
