//go:build !crashhook

package main

import "testing"

// TestNoCrashHook: the production build ignores SNAPSYNC_CRASH_AT, so no
// environment can make a deployed sidecar kill itself mid-install.
func TestNoCrashHook(t *testing.T) {
	t.Setenv("SNAPSYNC_CRASH_AT", "chunk-written")
	if crashHook() != nil {
		t.Fatal("crashHook() is not nil without the crashhook build tag")
	}
}
