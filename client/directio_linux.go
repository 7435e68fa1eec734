package client

import "golang.org/x/sys/unix"

// oDirect opens a file for direct I/O: writes go from the buffer to the
// device, not through the page cache.
const oDirect = unix.O_DIRECT
