//go:build linux

package durable

import "golang.org/x/sys/unix"

// Magic numbers of statfs(2)'s f_type (linux/magic.h).
const (
	ext4Magic  = 0xEF53 // ext2, ext3 and ext4 share it
	xfsMagic   = 0x58465342
	btrfsMagic = 0x9123683E
)

// DirSyncCoversCreates reports whether the filesystem holding path is one
// on which the fsync of a directory also makes durable the inode of a file
// just created in it with one call (ext4, XFS, btrfs: docs/DESIGN.md,
// "Durability of the staged tree"). False when statfs fails or names
// another filesystem: then every file needs an fsync of its own.
func DirSyncCoversCreates(path string) bool {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return false
	}
	switch uint32(st.Type) { //nolint:unconvert // int64 on some architectures
	case ext4Magic, xfsMagic, btrfsMagic:
		return true
	}
	return false
}
