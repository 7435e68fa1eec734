//go:build linux

package durable

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// exchange swaps a and b with renameat2(RENAME_EXCHANGE). EINVAL (a
// filesystem without support) and ENOSYS (a kernel before 3.15) report
// ErrExchangeUnsupported.
func exchange(a, b string) error {
	err := unix.Renameat2(unix.AT_FDCWD, a, unix.AT_FDCWD, b, unix.RENAME_EXCHANGE)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, unix.EINVAL), errors.Is(err, unix.ENOSYS):
		return fmt.Errorf("exchange %s %s: %w: %w", a, b, ErrExchangeUnsupported, err)
	default:
		return &os.LinkError{Op: "exchange", Old: a, New: b, Err: err}
	}
}
