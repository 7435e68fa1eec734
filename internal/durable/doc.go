// Package durable owns the file operations that must survive a crash: the
// atomic write (tmp → fsync → rename → fsync dir), directory syncs, removals
// made durable, the exclusive lock, opens that refuse symlinks, and the file
// identity (device, inode, birth time) that tells a reused inode apart. The
// swap and the client's staging run their durable steps through its small FS
// seam, so a test records their exact order (WithLogging) or stops them
// between any two (WithHook). No other package keeps a copy of these helpers.
// OS resolves paths by name; Beneath resolves them below a Dir, a directory
// handle under which no component is ever a followed symlink (openat2
// RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or openat O_NOFOLLOW one component at
// a time on kernels without openat2), so callers keep naming full paths.
package durable
