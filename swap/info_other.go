//go:build !linux

package swap

// lstat off Linux has no birth time to offer.
func lstat(path string) (Info, error) { return lstatPortable(path) }
