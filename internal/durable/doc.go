// Package durable owns the file operations that must survive a crash: the
// atomic write (tmp → fsync → rename → fsync dir), directory syncs, removals
// made durable, the exclusive lock, opens that refuse symlinks, and the file
// identity (device, inode, birth time) that tells a reused inode apart. The
// swap and the client's staging run their durable steps through its small FS
// seam, so a test records their exact order (WithLogging) or stops them
// between any two (WithHook). No other package keeps a copy of these helpers;
// paths are plain today, and a later FS may resolve them below directory
// handles (openat with O_NOFOLLOW) without changing its callers.
package durable
