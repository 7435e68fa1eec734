//go:build !linux

package durable

import "os"

// lstat off Linux has no birth time to offer.
func lstat(path string) (Info, error) { return lstatPortable(path) }

// fstat off Linux has no birth time to offer.
func fstat(f *os.File) (Info, error) { return fstatPortable(f) }
