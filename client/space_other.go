//go:build !linux && !darwin

package client

import "errors"

// fsSpace reports that free space is unknown here.
func fsSpace(string) (free, size int64, err error) {
	return 0, 0, errors.New("free space unknown on this platform")
}
