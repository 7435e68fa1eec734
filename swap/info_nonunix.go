//go:build !unix

package swap

import "errors"

// lstatPortable cannot identify files without inodes.
func lstatPortable(path string) (Info, error) {
	return Info{}, errors.New("swap: file identity unsupported on this platform")
}
