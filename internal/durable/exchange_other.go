//go:build !linux

package durable

import "fmt"

// exchange is unsupported off Linux: Replace uses the journaled rename pair.
func exchange(a, b string) error {
	return fmt.Errorf("exchange %s %s: %w", a, b, ErrExchangeUnsupported)
}
