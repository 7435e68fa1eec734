//go:build !linux

package client

// oDirect is 0 where direct I/O is not used: every write is buffered.
const oDirect = 0
