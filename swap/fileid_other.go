//go:build !unix

package swap

import (
	"errors"
	"io/fs"
)

func fileID(fs.FileInfo) (FileID, error) {
	return FileID{}, errors.New("swap: file identity unsupported on this platform")
}
