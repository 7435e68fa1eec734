//go:build !linux && !darwin

package durable

import "errors"

// Space reports that free space is unknown here.
func Space(string) (free, size int64, err error) {
	return 0, 0, errors.New("free space unknown on this platform")
}
