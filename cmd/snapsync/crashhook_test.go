//go:build crashhook

package main

import "testing"

// TestCrashHookUnset: even the crashhook build does nothing unless
// SNAPSYNC_CRASH_AT is set.
func TestCrashHookUnset(t *testing.T) {
	t.Setenv("SNAPSYNC_CRASH_AT", "")
	if crashHook() != nil {
		t.Fatal("crashHook() is not nil with SNAPSYNC_CRASH_AT empty")
	}
	t.Setenv("SNAPSYNC_CRASH_AT", "chunk-written")
	if hook := crashHook(); hook == nil || hook("staged") != nil {
		t.Fatal("crashHook() with SNAPSYNC_CRASH_AT set: want a hook that passes other points")
	}
}
