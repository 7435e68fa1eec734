package server

import (
	"errors"
	"fmt"
	"io"

	"github.com/snapsync/snapsync/internal/durable"
)

// lockDir takes an exclusive lock on path, so two servers never share a work
// dir. The lock lasts until the returned Closer is closed (or the process
// dies).
func lockDir(path string) (io.Closer, error) {
	c, err := durable.Lock(path, 0o644)
	if errors.Is(err, durable.ErrLocked) {
		return nil, fmt.Errorf("%w: %s", ErrWorkDirLocked, path)
	}
	return c, err
}
