package server

import "unsafe"

// unsafeString views b as a string without copying; b must not change
// afterwards (a pathTable's bytes never do once added).
func unsafeString(b []byte) string { return unsafe.String(&b[0], len(b)) }
