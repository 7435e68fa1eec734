package client

import (
	"errors"
	"syscall"
	"unsafe"
)

// directAlign is the alignment direct I/O needs of a write's buffer, offset
// and length: the page size, which covers every logical block size.
const directAlign = 4096

// alignedBuf returns n bytes whose first byte is directAlign-aligned.
func alignedBuf(n int) []byte {
	b := make([]byte, n+directAlign)
	skip := (directAlign - int(uintptr(unsafe.Pointer(&b[0]))%directAlign)) % directAlign
	return b[skip : skip+n : skip+n]
}

// directOK reports whether data can be written at off with direct I/O.
func directOK(data []byte, off int64) bool {
	return oDirect != 0 && len(data) > 0 && len(data)%directAlign == 0 && off%directAlign == 0 &&
		uintptr(unsafe.Pointer(&data[0]))%directAlign == 0
}

// directRefused reports an error that means the filesystem does not do
// direct I/O (tmpfs, some FUSE filesystems) or not with this alignment.
func directRefused(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.EOPNOTSUPP)
}
