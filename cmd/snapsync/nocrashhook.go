//go:build !crashhook

package main

// crashHook is nil in the production build: SNAPSYNC_CRASH_AT, which kills
// the process at a fault point, works only in a binary built with -tags
// crashhook (see crashhook.go), for crash-consistency tests.
func crashHook() func(point string) error { return nil }
