// Package durable owns the file operations that must survive a crash: the
// atomic write (tmp → fsync → rename → fsync dir), directory syncs, removals
// made durable, the exclusive lock, opens that refuse symlinks and the file
// identity (device, inode, birth time) that tells a reused inode apart.
// Every operation of an install goes through its small FS seam, so a test can
// record their exact order (WithLogging) and stop the process between any two
// (WithHook). No other package writes its own copy of these helpers.
package durable
