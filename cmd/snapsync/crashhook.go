//go:build crashhook

package main

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
)

// crashHook returns the fault hook for crash-consistency tests: with
// SNAPSYNC_CRASH_AT=POINT (or POINT#N for its Nth occurrence) in the
// environment, the process SIGKILLs itself when the install reaches that
// point, exactly as a power cut or OOM kill would stop it. Unset: nil.
//
// Only a binary built with -tags crashhook has it (the e2e tests build one);
// the production build's crashHook (nocrashhook.go) always returns nil.
func crashHook() func(point string) error {
	spec := os.Getenv("SNAPSYNC_CRASH_AT")
	if spec == "" {
		return nil
	}
	want, nth := spec, 1
	if p, n, ok := strings.Cut(spec, "#"); ok {
		if v, err := strconv.Atoi(n); err == nil && v > 0 {
			want, nth = p, v
		}
	}
	var mu sync.Mutex
	seen := 0
	return func(point string) error {
		if point != want {
			return nil
		}
		mu.Lock()
		seen++
		hit := seen == nth
		mu.Unlock()
		if hit {
			// The whole point is to die here without cleanup.
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {}
		}
		return nil
	}
}
