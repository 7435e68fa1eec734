package s3

import (
	"errors"
	"fmt"
	"io"
)

// errTooLong reports a Put whose reader holds more than its size.
var errTooLong = errors.New("more bytes than the size")

// exactReader reads left bytes of r and then checks that r holds no more:
// the read that returns the last byte fails if r has another, so the
// upload sending it is not completed.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left <= 0 {
		return 0, e.end()
	}
	n, err := e.r.Read(p[:min(int64(len(p)), e.left)])
	e.left -= int64(n)
	if e.left == 0 && err == nil {
		err = e.end()
	}
	return n, err
}

// end returns io.EOF when r holds no more bytes, else errTooLong.
func (e *exactReader) end() error {
	var one [1]byte
	for {
		n, err := e.r.Read(one[:])
		switch {
		case n > 0:
			return fmt.Errorf("s3: put: %w", errTooLong)
		case err != nil && errors.Is(err, io.EOF):
			return io.EOF
		case err != nil:
			return err
		}
	}
}
