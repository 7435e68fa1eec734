//go:build !unix

package durable

import (
	"errors"
	"io/fs"
	"os"
)

var errNoIdentity = errors.New("durable: file identity unsupported on this platform")

// lstatPortable cannot identify files without inodes.
func lstatPortable(string) (Info, error) { return Info{}, errNoIdentity }

// fstatPortable cannot identify files without inodes.
func fstatPortable(*os.File) (Info, error) { return Info{}, errNoIdentity }

// InfoID is zero where the platform has no inodes.
func InfoID(fs.FileInfo) FileID { return FileID{} }
