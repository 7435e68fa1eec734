//go:build !linux

package durable

// DirSyncCoversCreates is false off Linux: every file needs an fsync of its
// own.
func DirSyncCoversCreates(string) bool { return false }
